import { isValidEmail, normalizePhone } from '../../core/phone';
import { escapeHtml, extractVariables, missingVariables, renderText } from '../../core/render';

describe('{variable} placeholders', () => {
  it('extracts each name once, sorted, from several texts', () => {
    expect(extractVariables('Hi {name}, order {order}', 'Subject {order}', undefined)).toEqual(['name', 'order']);
    expect(extractVariables('no placeholders {} { spaced } {1abc}')).toEqual([]);
  });

  it('renders values literally, never evaluating them', () => {
    expect(renderText('Hi {name}', { name: '${process.exit()} {order}' })).toBe('Hi ${process.exit()} {order}');
    expect(renderText('{a}{a}{b}', { a: 'x', b: 'y' })).toBe('xxy');
  });

  it('escapes values for email HTML but not the template itself', () => {
    expect(renderText('<b>{name}</b>', { name: '<script>alert(1)</script>' }, { html: true })).toBe(
      '<b>&lt;script&gt;alert(1)&lt;/script&gt;</b>',
    );
    expect(escapeHtml(`"'&`)).toBe('&quot;&#39;&amp;');
  });

  it('lists missing values', () => {
    expect(missingVariables(['name', 'order'], { name: 'Ann' })).toEqual(['order']);
  });
});

describe('phone normalisation', () => {
  it('normalises international numbers to E.164 with their country', () => {
    expect(normalizePhone('+7 (999) 000-00-05')).toEqual({ e164: '+79990000005', country: 'RU' });
    expect(normalizePhone('79990000005')).toEqual({ e164: '+79990000005', country: 'RU' });
    expect(normalizePhone('+49 151 12345675')).toEqual({ e164: '+4915112345675', country: 'DE' });
  });

  it('reads national formats in the configured default country', () => {
    expect(normalizePhone('8 999 000-00-05', 'RU')).toEqual({ e164: '+79990000005', country: 'RU' });
    expect(normalizePhone('8 999 000-00-05')).toBeUndefined();
  });

  it('rejects what is not a phone number', () => {
    for (const bad of ['', '12345', 'abc', '+1555000000000000000', '+7 999 000']) expect(normalizePhone(bad)).toBeUndefined();
  });

  it('validates emails', () => {
    expect(isValidEmail('ann@example.com')).toBe(true);
    expect(isValidEmail('ann@example')).toBe(false);
    expect(isValidEmail('ann example@x.com')).toBe(false);
  });
});
