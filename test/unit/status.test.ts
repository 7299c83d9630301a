import { allowedPredecessors, canTransition, FINAL_STATUSES, isFinal, MESSAGE_STATUSES } from '../../core/status';

describe('message status state machine', () => {
  it('has the twelve statuses of the API contract', () => {
    expect([...MESSAGE_STATUSES].sort()).toEqual(
      ['CANCELED', 'CREATED', 'DELAYED', 'DELIVERED', 'ERROR', 'PAUSED', 'PENDING', 'QUEUED', 'READ', 'SENT', 'SKIPPED', 'UNDELIVERED'],
    );
  });

  it('follows the happy path CREATED → QUEUED → SENT → PENDING → DELIVERED → READ', () => {
    const path = ['CREATED', 'QUEUED', 'SENT', 'PENDING', 'DELIVERED', 'READ'] as const;
    for (let i = 1; i < path.length; i++) expect(canTransition(path[i - 1]!, path[i]!)).toBe(true);
  });

  it('never moves backwards: a late SENT or PENDING after DELIVERED is refused', () => {
    expect(canTransition('DELIVERED', 'SENT')).toBe(false);
    expect(canTransition('DELIVERED', 'PENDING')).toBe(false);
    expect(canTransition('READ', 'DELIVERED')).toBe(false);
    expect(canTransition('PENDING', 'SENT')).toBe(false);
  });

  it('keeps CANCELED and READ terminal; SKIPPED takes only a late receipt of what really happened', () => {
    for (const to of MESSAGE_STATUSES) {
      expect(canTransition('CANCELED', to)).toBe(false);
      expect(canTransition('READ', to)).toBe(false);
    }
    expect(MESSAGE_STATUSES.filter((to) => canTransition('SKIPPED', to))).toEqual(['DELIVERED', 'READ']);
  });

  it('lets a late DELIVERED correct a lifetime UNDELIVERED, and lets fallback skip failed attempts', () => {
    expect(canTransition('UNDELIVERED', 'DELIVERED')).toBe(true);
    expect(canTransition('UNDELIVERED', 'SKIPPED')).toBe(true);
    expect(canTransition('ERROR', 'SKIPPED')).toBe(true);
    expect(canTransition('ERROR', 'DELIVERED')).toBe(false);
  });

  it('lets only messages not yet at a provider be paused, delayed or canceled', () => {
    for (const from of ['CREATED', 'QUEUED', 'DELAYED'] as const) expect(canTransition(from, 'PAUSED')).toBe(true);
    for (const from of ['SENT', 'PENDING', 'DELIVERED'] as const) {
      expect(canTransition(from, 'PAUSED')).toBe(false);
      expect(canTransition(from, 'CANCELED')).toBe(false);
    }
  });

  it('lists predecessors consistently with canTransition', () => {
    for (const to of MESSAGE_STATUSES) {
      for (const from of allowedPredecessors(to)) expect(canTransition(from, to)).toBe(true);
    }
    expect(FINAL_STATUSES.every(isFinal)).toBe(true);
    expect(isFinal('SENT')).toBe(false);
  });
});
