import { evalWorkflow } from '@outputai/evals';
import { enoughClaims, feedbackIsActionable } from './evaluators.js';

// `blog_evaluator_eval`: the name Output's CLI (and output-reset) look for.
export default evalWorkflow({
  name: 'blog_evaluator_eval',
  evals: [
    { evaluator: enoughClaims, criticality: 'required', interpret: { type: 'boolean' } },
    { evaluator: feedbackIsActionable, criticality: 'informational', interpret: { type: 'boolean' } }
  ]
});
