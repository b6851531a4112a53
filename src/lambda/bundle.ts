/**
 * The entry point of the Lambda bundle (scripts/bundle-lambda.mjs → dist/lambda-bundle/index.mjs):
 * every handler, so one asset serves each function with its own `handler` setting
 * (index.plan, index.backupUnit, index.prune, index.report; index.handler is the single-function
 * scheduled backup; index.drill the scheduled restore drill).
 */
export { handler } from './handler.js';
export { backupUnit, plan, prune, report } from './stepfunctions.js';
export { drill } from './drill.js';
