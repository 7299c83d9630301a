/** What the console's two hand-made SVG charts share (the dashboard's bars, a task's progress
 * lines): their frame, the value scale from 0 to a round top, and its grid lines with labels. */

export const CHART_HEIGHT = 220;
/** Room for the value labels on the left. */
export const CHART_LEFT = 44;
/** Room for the time labels at the bottom. */
const CHART_BOTTOM = 28;
const CHART_TOP_PAD = 12;

/** The y coordinate of a value, for a scale from 0 to `top`. */
export function valueScale(top: number): (n: number) => number {
  return (n) => CHART_TOP_PAD + (CHART_HEIGHT - CHART_BOTTOM - CHART_TOP_PAD) * (1 - n / top);
}

/** Horizontal grid lines at 0, the middle (when `top` halves evenly) and `top`, each labelled. */
export function ValueGrid({ top, width }: { top: number; width: number }) {
  const y = valueScale(top);
  return (
    <>
      {(top % 2 === 0 ? [0, 0.5, 1] : [0, 1]).map((f) => (
        <g key={f}>
          <line x1={CHART_LEFT} x2={width} y1={y(top * f)} y2={y(top * f)} stroke="var(--mantine-color-gray-3)" />
          <text x={CHART_LEFT - 6} y={y(top * f) + 4} fontSize="11" textAnchor="end" fill="var(--mantine-color-dimmed)">
            {top * f}
          </text>
        </g>
      ))}
    </>
  );
}
