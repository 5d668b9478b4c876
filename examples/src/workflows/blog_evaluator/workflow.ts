import { workflow } from '@outputai/core';
import { BlogInput, Evaluation } from './types.js';
import { extractClaims, fetchBlogContent, scoreClaims, summarizeFeedback } from './steps.js';
import { evaluateSignalToNoise } from './evaluators.js';

export default workflow({
  name: 'blog_evaluator',
  description: 'Fetch a blog post, score its claims and write editorial feedback',
  inputSchema: BlogInput,
  outputSchema: Evaluation,
  fn: async ({ url, audience }) => {
    const { title, text } = await fetchBlogContent({ url });
    const { claims } = await extractClaims({ title, text });
    const scored = await scoreClaims({ claims, audience });
    const { summary } = await summarizeFeedback({ title, claims: scored.claims });
    const signal = await evaluateSignalToNoise({ text, claims: scored.claims });
    return { title, claims: scored.claims, summary, signalToNoise: signal.value };
  }
});
