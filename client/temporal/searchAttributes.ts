import { defineSearchAttributeKey, SearchAttributeType, type SearchAttributePair } from '@temporalio/common';
import type { SearchAttributeName } from '../../core/workflowIds';

export const searchAttributeKeys = {
  BackupInstance: defineSearchAttributeKey('BackupInstance', SearchAttributeType.KEYWORD),
  BackupId: defineSearchAttributeKey('BackupId', SearchAttributeType.KEYWORD),
  BackupOperation: defineSearchAttributeKey('BackupOperation', SearchAttributeType.KEYWORD),
  BackupStatus: defineSearchAttributeKey('BackupStatus', SearchAttributeType.KEYWORD),
} satisfies Record<SearchAttributeName, unknown>;

export type SearchAttributeValues = Partial<Record<SearchAttributeName, string>>;

export function toSearchAttributePairs(values: SearchAttributeValues): SearchAttributePair[] {
  const pairs: SearchAttributePair[] = [];
  for (const [name, value] of Object.entries(values) as [SearchAttributeName, string | undefined][]) {
    if (value !== undefined && value !== '') pairs.push({ key: searchAttributeKeys[name], value });
  }
  return pairs;
}
