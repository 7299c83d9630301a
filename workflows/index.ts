// The workflow bundle's entry point: every workflow the worker registers.
export { taskWorkflow } from './task';
export { notificationStreamWorkflow } from './stream';
