/**
 * The metric names (and the label names matched on them) that a PromQL expression reads:
 * every identifier that is not a function, an aggregation, a keyword or a label list. A
 * small lexer, not a full parser; it refuses what it does not know (an unknown function,
 * a selector without a metric name), so a typo fails the test instead of hiding.
 */

export interface Selector {
  readonly metric: string;
  /** Label names of its matchers (`{status=~"5.."}` → `status`). */
  readonly labels: readonly string[];
}

type Token =
  | { readonly kind: 'ident'; readonly text: string }
  | { readonly kind: 'string' | 'number' | 'range' | 'op'; readonly text: string }
  | { readonly kind: 'punct'; readonly text: '(' | ')' | '{' | '}' | ',' };

const AGGREGATIONS: ReadonlySet<string> = new Set([
  'sum',
  'min',
  'max',
  'avg',
  'group',
  'stddev',
  'stdvar',
  'count',
  'count_values',
  'bottomk',
  'topk',
  'quantile',
  'limitk',
  'limit_ratio',
]);

const FUNCTIONS: ReadonlySet<string> = new Set([
  ...['abs', 'absent', 'absent_over_time', 'ceil', 'changes', 'clamp', 'clamp_max', 'clamp_min'],
  ...['day_of_month', 'day_of_week', 'day_of_year', 'days_in_month', 'delta', 'deriv', 'exp'],
  ...['floor', 'histogram_avg', 'histogram_count', 'histogram_fraction', 'histogram_quantile'],
  ...['histogram_stddev', 'histogram_stdvar', 'histogram_sum', 'holt_winters', 'hour', 'idelta'],
  ...['double_exponential_smoothing', 'increase', 'irate', 'label_join', 'label_replace', 'ln'],
  ...['log2', 'log10', 'minute', 'month', 'predict_linear', 'rate', 'resets', 'round', 'scalar'],
  ...['sgn', 'sort', 'sort_desc', 'sort_by_label', 'sort_by_label_desc', 'sqrt', 'time'],
  ...['timestamp', 'vector', 'year', 'avg_over_time', 'min_over_time', 'max_over_time'],
  ...['sum_over_time', 'count_over_time', 'quantile_over_time', 'stddev_over_time'],
  ...['stdvar_over_time', 'last_over_time', 'present_over_time', 'mad_over_time', 'acos'],
  ...['acosh', 'asin', 'asinh', 'atan', 'atanh', 'cos', 'cosh', 'sin', 'sinh', 'tan', 'tanh'],
  ...['deg', 'rad', 'pi', 'start', 'end'],
]);

/** Followed by a parenthesised list of label names. */
const LABEL_LISTS: ReadonlySet<string> = new Set([
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
]);
const KEYWORDS: ReadonlySet<string> = new Set([
  'and',
  'or',
  'unless',
  'bool',
  'offset',
  'atan2',
  'inf',
  'nan',
]);

export function selectorsOf(expr: string): Selector[] {
  const tokens = lex(expr);
  const selectors: Selector[] = [];
  for (let index = 0; index < tokens.length; index += 1) {
    const token = tokens[index] as Token;
    const next = tokens[index + 1];
    if (token.kind === 'punct' && token.text === '{') {
      throw new Error(`a selector without a metric name in ${expr}`);
    }
    if (token.kind !== 'ident') continue;
    const word = token.text.toLowerCase();
    if (LABEL_LISTS.has(word)) {
      if (next?.text === '(') index = closing(tokens, index + 1, expr);
      continue;
    }
    if (KEYWORDS.has(word)) continue;
    if (AGGREGATIONS.has(token.text) && (next?.text === '(' || isLabelList(next))) continue;
    if (next?.text === '(') {
      if (!FUNCTIONS.has(token.text)) throw new Error(`unknown function ${token.text} in ${expr}`);
      continue;
    }
    const labels: string[] = [];
    if (next?.text === '{') index = matchers(tokens, index + 1, labels, expr);
    selectors.push({ metric: token.text, labels });
  }
  return selectors;
}

/** The distinct metric names of `selectorsOf`. */
export function metricNamesOf(expr: string): string[] {
  return [...new Set(selectorsOf(expr).map((selector) => selector.metric))];
}

function isLabelList(token: Token | undefined): boolean {
  return token?.kind === 'ident' && LABEL_LISTS.has(token.text.toLowerCase());
}

/** Index of the `)` that closes the `(` at `open`. */
function closing(tokens: readonly Token[], open: number, expr: string): number {
  for (let index = open + 1; index < tokens.length; index += 1) {
    const token = tokens[index] as Token;
    if (token.text === ')') return index;
    if (token.kind !== 'ident' && token.text !== ',') {
      throw new Error(`a label list holds ${token.text} in ${expr}`);
    }
  }
  throw new Error(`an unclosed label list in ${expr}`);
}

/** Reads `{label op "value", …}` from `open`; returns the index of its `}`. */
function matchers(tokens: readonly Token[], open: number, labels: string[], expr: string): number {
  let index = open + 1;
  for (;;) {
    const token = tokens[index];
    if (token?.text === '}') return index;
    const [op, value, after] = [tokens[index + 1], tokens[index + 2], tokens[index + 3]];
    if (token?.kind !== 'ident' || op?.kind !== 'op' || value?.kind !== 'string') {
      throw new Error(`a malformed label matcher in ${expr}`);
    }
    if (!['=', '!=', '=~', '!~'].includes(op.text)) {
      throw new Error(`matcher operator ${op.text} in ${expr}`);
    }
    labels.push(token.text);
    if (after?.text === ',') index += 4;
    else if (after?.text === '}') return index + 3;
    else throw new Error(`expected , or } after a matcher in ${expr}`);
  }
}

const PATTERNS: readonly [Token['kind'], RegExp][] = [
  ['string', /^"(?:[^"\\]|\\.)*"|^'(?:[^'\\]|\\.)*'|^`[^`]*`/],
  // A range or subquery, `[5m]`, `[10m:1m]`, `[$__rate_interval]`: nothing in it is a name.
  ['range', /^\[[^\]]*\]/],
  ['number', /^(?:\d+(?:ms|[smhdwy]))+|^0x[0-9a-fA-F]+|^(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?/],
  ['ident', /^[a-zA-Z_:][a-zA-Z0-9_:]*/],
  ['op', /^(?:==|!=|<=|>=|=~|!~|[-+*/%^<>=@])/],
  ['punct', /^[(){},]/],
];

function lex(expr: string): Token[] {
  const tokens: Token[] = [];
  let rest = expr;
  while (rest.length > 0) {
    const space = /^(?:\s+|#[^\n]*)/.exec(rest);
    if (space) {
      rest = rest.slice(space[0].length);
      continue;
    }
    const found = PATTERNS.map(([kind, pattern]) => [kind, pattern.exec(rest)?.[0]] as const).find(
      ([, text]) => text !== undefined,
    );
    if (!found || found[1] === undefined) throw new Error(`cannot read ${rest} in ${expr}`);
    const [kind, text] = found;
    tokens.push({ kind, text } as Token);
    rest = rest.slice(text.length);
  }
  return tokens;
}
