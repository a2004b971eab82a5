export { beginMerge, planMerge, mergeBatch, commitMerge, finishMerge, type MergePlanSummary } from './merge';
