import { evaluator, z, EvaluationNumberResult } from '@outputai/core';
import { generateText } from '@outputai/llm';
import { ScoredClaim } from './types.js';

export const evaluateSignalToNoise = evaluator({
  name: 'evaluate_signal_to_noise',
  description: 'How much of the post is substance rather than filler',
  inputSchema: z.object({ text: z.string(), claims: z.array(ScoredClaim) }),
  fn: async ({ text, claims }) => {
    const { result } = await generateText({
      prompt: 'signal_noise@v1',
      variables: { text: text.slice(0, 20_000), claims: JSON.stringify(claims) },
      output: z.object({ score: z.number().min(0).max(1), reasoning: z.string() })
    });
    return new EvaluationNumberResult({
      value: result.score,
      confidence: 0.8,
      reasoning: result.reasoning
    });
  }
});
