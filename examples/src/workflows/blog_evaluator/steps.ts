import { step, z } from '@outputai/core';
import { generateText } from '@outputai/llm';
import { Claim, ScoredClaim } from './types.js';

// Slow and rate-limited: exactly the kind of step a reset should not re-run.
export const fetchBlogContent = step({
  name: 'fetch_blog_content',
  description: 'Download the post and strip it to readable text',
  inputSchema: z.object({ url: z.string().url() }),
  outputSchema: z.object({ title: z.string(), text: z.string() }),
  fn: async ({ url }) => {
    const response = await fetch(url, { headers: { 'user-agent': 'blog-evaluator/0.1' } });
    if (!response.ok) {
      throw new Error(`fetch ${url}: HTTP ${response.status}`);
    }
    const html = await response.text();
    const title = html.match(/<title>([^<]*)<\/title>/i)?.[1]?.trim() ?? url;
    const text = html
      .replace(/<script[\s\S]*?<\/script>/gi, ' ')
      .replace(/<style[\s\S]*?<\/style>/gi, ' ')
      .replace(/<[^>]+>/g, ' ')
      .replace(/\s+/g, ' ')
      .trim();
    return { title, text };
  }
});

export const extractClaims = step({
  name: 'extract_claims',
  description: 'List the claims the post makes',
  inputSchema: z.object({ title: z.string(), text: z.string() }),
  outputSchema: z.object({ claims: z.array(Claim) }),
  fn: async ({ title, text }) => {
    const { result } = await generateText({
      prompt: 'extract_claims@v1',
      variables: { title, text: text.slice(0, 40_000) },
      output: z.object({ claims: z.array(Claim) })
    });
    return result;
  }
});

export const scoreClaims = step({
  name: 'score_claims',
  description: 'Score each claim for evidence and specificity',
  inputSchema: z.object({ claims: z.array(Claim), audience: z.string() }),
  outputSchema: z.object({ claims: z.array(ScoredClaim) }),
  fn: async ({ claims, audience }) => {
    const { result } = await generateText({
      prompt: 'score_claims@v1',
      variables: { claims: JSON.stringify(claims, null, 2), audience },
      output: z.object({ claims: z.array(ScoredClaim) })
    });
    return result;
  }
});

export const summarizeFeedback = step({
  name: 'summarize_feedback',
  description: 'Write the feedback an editor would send the author',
  inputSchema: z.object({ title: z.string(), claims: z.array(ScoredClaim) }),
  outputSchema: z.object({ summary: z.string() }),
  fn: async ({ title, claims }) => {
    const { result } = await generateText({
      prompt: 'summarize_feedback@v1',
      variables: { title, claims: JSON.stringify(claims, null, 2) }
    });
    return { summary: result };
  }
});
