import { verify, Verdict } from '@outputai/evals';

// Deterministic checks of blog_evaluator's result; each runs as the activity
// `blog_evaluator_eval#<name>` with {input, output, ground_truth} of one dataset case.

export const enoughClaims = verify(
  { name: 'enough_claims' },
  ({ output, context }) => Verdict.gte(output.claims.length, context.ground_truth?.min_claims ?? 1)
);

export const feedbackIsActionable = verify(
  { name: 'feedback_is_actionable' },
  ({ output, context }) =>
    Verdict.contains(output.summary.toLowerCase(), String(context.ground_truth?.must_mention ?? 'claim'))
);
