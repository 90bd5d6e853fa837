// lifetime: every child Dormant starts (build step, hook, replica) dies with Dormant.
export { bindToDormant, type LifetimeScope, treeBindingProblem } from './bind-to-dormant.js';
