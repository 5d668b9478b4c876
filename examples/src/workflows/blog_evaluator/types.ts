import { z } from '@outputai/core';

export const BlogInput = z.object({
  url: z.string().url().describe('The blog post to evaluate'),
  audience: z.string().default('engineering leaders')
});

export const Claim = z.object({
  text: z.string(),
  kind: z.enum(['fact', 'opinion', 'prediction'])
});

export const ScoredClaim = Claim.extend({
  score: z.number().min(0).max(10),
  rationale: z.string()
});

export const Evaluation = z.object({
  title: z.string(),
  claims: z.array(ScoredClaim),
  summary: z.string(),
  signalToNoise: z.number()
});

export type BlogInputT = z.infer<typeof BlogInput>;
export type ClaimT = z.infer<typeof Claim>;
export type ScoredClaimT = z.infer<typeof ScoredClaim>;
