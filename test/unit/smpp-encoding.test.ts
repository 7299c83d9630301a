import { encodeGsm7, encodeUcs2, parseReceipt, receiptStatus, relativeValidity } from '../../activities/channels/smpp';

describe('SMPP encoding and receipts (pure)', () => {
  it('relative validity_period: YYMMDDhhmmss000R', () => {
    expect(relativeValidity(3600)).toBe('000000010000000R');
    expect(relativeValidity(90.2)).toBe('000000000131000R');
    expect(relativeValidity(2 * 86400 + 3 * 3600 + 4 * 60 + 5)).toBe('000002030405000R');
    expect(relativeValidity(45 * 86400)).toBe('000115000000000R');
    expect(relativeValidity(-5)).toBe('000000000001000R');
  });

  it('GSM-7 unpacked septets with extension characters as ESC + code; UCS-2 big-endian', () => {
    expect([...encodeGsm7('A@_€[')]).toEqual([0x41, 0x00, 0x11, 0x1b, 0x65, 0x1b, 0x3c]);
    expect(() => encodeGsm7('ж')).toThrow('not in the GSM-7 alphabet');
    expect([...encodeUcs2('Жa')]).toEqual([0x04, 0x16, 0x00, 0x61]);
  });

  it('parses receipt text and prefers the TLVs', () => {
    const text = 'id:0A1B2C sub:001 dlvrd:001 submit date:2611270700 done date:2611270701 stat:DELIVRD err:000 text:Hello';
    expect(parseReceipt(text, {})).toEqual({ partId: '0A1B2C', stat: 'DELIVRD', err: '000' });
    expect(parseReceipt(text, { receiptedMessageId: 'ff01', messageState: 5 })).toEqual({ partId: 'ff01', stat: 'UNDELIV', err: '000' });
    expect(parseReceipt('no receipt here', {})).toBeNull();
    expect(['DELIVRD', 'UNDELIV', 'EXPIRED', 'REJECTD', 'DELETED', 'UNKNOWN', 'ACCEPTD', 'ENROUTE'].map(receiptStatus)).toEqual([
      'DELIVERED', 'UNDELIVERED', 'UNDELIVERED', 'UNDELIVERED', 'UNDELIVERED', 'UNDELIVERED', 'PENDING', 'PENDING',
    ]);
  });
});
