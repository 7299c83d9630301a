import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/** Custom search attributes of task workflows, so engineers can find runs in the Temporal UI
 * (e.g. `TaskStatus = "paused"`). Registered by the dev server launcher and the test setup;
 * on a real cluster: `temporal operator search-attribute create` with the same names and types. */
export const TASK_ID = defineSearchAttributeKey('TaskId', SearchAttributeType.KEYWORD);
export const TASK_NAME = defineSearchAttributeKey('TaskName', SearchAttributeType.TEXT);
export const TASK_STATUS = defineSearchAttributeKey('TaskStatus', SearchAttributeType.KEYWORD);
export const TEMPLATE_ID = defineSearchAttributeKey('TemplateId', SearchAttributeType.KEYWORD);

export const TASK_SEARCH_ATTRIBUTES = [TASK_ID, TASK_NAME, TASK_STATUS, TEMPLATE_ID];
