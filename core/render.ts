/** `{variable_name}` placeholders: extraction, validation and safe rendering (plain substitution,
 * never evaluation). */
const PLACEHOLDER = /\{([A-Za-z_][A-Za-z0-9_.-]*)\}/g;

export type Variables = Record<string, string>;

export function extractVariables(...texts: (string | undefined | null)[]): string[] {
  const names = new Set<string>();
  for (const text of texts) {
    if (!text) continue;
    for (const match of text.matchAll(PLACEHOLDER)) names.add(match[1]!);
  }
  return [...names].sort();
}

export function missingVariables(required: readonly string[], values: Variables): string[] {
  return required.filter((name) => values[name] === undefined || values[name] === null);
}

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (ch) => HTML_ESCAPES[ch]!);
}

/** Replaces every known placeholder; unknown ones stay as written (validation reports them first). */
export function renderText(text: string, values: Variables, options: { html?: boolean } = {}): string {
  return text.replace(PLACEHOLDER, (whole, name: string) => {
    const value = values[name];
    if (value === undefined || value === null) return whole;
    return options.html ? escapeHtml(String(value)) : String(value);
  });
}
