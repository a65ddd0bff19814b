import type { EnvelopArmorPlugin } from '@escape.tech/graphql-armor';
import { formatPath, type ValidationIssue, type ValidationRule } from '@wan-video/core';
import {
  type ASTNode,
  type DocumentNode,
  type ExecutionArgs,
  type ExecutionResult,
  GraphQLError,
  type GraphQLInputType,
  type GraphQLLeafType,
  getOperationAST,
  isEnumType,
  isInputObjectType,
  isInputType,
  isListType,
  isNonNullType,
  Kind,
  typeFromAST,
  visit,
} from 'graphql';
import {
  type GraphQLParams,
  handleStreamOrSingleExecutionResult,
  isAsyncIterable,
  mapAsyncIterator,
  type Plugin,
} from 'graphql-yoga';
import { badUserInput, codeForStatus, type ErrorCode, isErrorCode } from '../errors.js';
import type { Logger } from '../logger.js';

/**
 * Every error a client can receive carries `extensions.code`, over HTTP, SSE and WebSocket alike.
 * Errors thrown on purpose already have one; this plugin gives one to the rest:
 *
 * - variables that do not fit their types: BAD_USER_INPUT with `issues`, each with its path from
 *   the argument the variable feeds (`["input", "steps"]`), like the resolvers' own; checked
 *   before execution, so every problem is listed, not only the first;
 * - a scalar's BAD_USER_INPUT in a literal (a `Seed` of `"x"`): the same `issues`;
 * - parse errors: GRAPHQL_PARSE_FAILED (yoga codes them on HTTP only; graphql-ws needs it too);
 * - yoga's own refusals that only have an HTTP status (no query, bad JSON): by that status;
 * - anything else without a code: masked as "Unexpected error.", INTERNAL_SERVER_ERROR, logged.
 *
 * graphql-armor's limits get their codes where they are configured, with `withLimitCodes`.
 * The hooks are envelop's (parse, validate, execute, subscribe), which yoga's HTTP and SSE,
 * `/graphql/stream` and graphql-ws all run, plus yoga's `onResultProcess` for the refusals that
 * happen before GraphQL runs.
 */
export function useErrorCodes(logger: Logger): Plugin {
  const code = (result: ExecutionResult) => withErrorCodes(result, logger);
  // yoga strips its internals when it answers over HTTP; graphql-ws sends results as they are.
  const codeFor = (args: ExecutionArgs) =>
    overHttp(args) ? code : (result: ExecutionResult) => forTheWire(result, logger);
  return {
    onParse() {
      return ({ result, replaceParseResult }) => {
        if (result instanceof GraphQLError && codeOf(result) === undefined) {
          replaceParseResult(recode(result, 'GRAPHQL_PARSE_FAILED'));
        }
      };
    },
    onValidate({ params }) {
      return ({ valid, result, setResult, context }) => {
        if (valid) {
          // yoga refuses this while parsing an HTTP request; graphql-ws would answer it uncoded.
          const { operationName } = (context as { params?: GraphQLParams }).params ?? {};
          if (!getOperationAST(params.documentAST, operationName)) {
            setResult([
              new GraphQLError('Could not determine what operation to execute.', {
                extensions: { code: 'OPERATION_RESOLUTION_FAILURE' },
              }),
            ]);
          }
          return;
        }
        // A scalar that refused a literal (`seed: "x"`) says BAD_USER_INPUT: add the issue's path.
        setResult(
          result.map((error) =>
            codeOf(error) === 'BAD_USER_INPUT' && error.extensions.issues === undefined
              ? literalError(params.documentAST, error)
              : error,
          ),
        );
      };
    },
    onExecute({ args, setResultAndStopExecution }) {
      const refused = variableErrors(args);
      if (refused) setResultAndStopExecution(refused);
      const finish = codeFor(args);
      return {
        onExecuteDone: (payload) =>
          handleStreamOrSingleExecutionResult(payload, ({ result, setResult }) =>
            setResult(finish(result)),
          ),
      };
    },
    onSubscribe({ args, setResultAndStopExecution }) {
      const refused = variableErrors(args);
      if (refused) setResultAndStopExecution(refused);
      const finish = codeFor(args);
      return {
        onSubscribeResult: (payload) =>
          handleStreamOrSingleExecutionResult(payload, ({ result, setResult }) =>
            setResult(finish(result)),
          ),
      };
    },
    // Over HTTP, what failed before GraphQL ran (no query, bad JSON, a GET mutation) lands here.
    onResultProcess({ result, setResult }) {
      if (isAsyncIterable(result)) setResult(mapAsyncIterator(result, code));
      else if (Array.isArray(result)) setResult(result.map(code));
      else setResult(code(result));
    },
  };
}

/** `result` with a code on every error; the same object when every error already has one. */
export function withErrorCodes<T extends ExecutionResult>(result: T, logger: Logger): T {
  if (result.errors?.every(hasOurCode) !== false) return result;
  return { ...result, errors: result.errors.map((error) => coded(error, logger)) };
}

/** Codes yoga and its libraries use for what we call otherwise. */
const LIBRARY_CODES: Readonly<Record<string, ErrorCode>> = {
  REQUEST_ENTITY_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
};

/**
 * `result` for a transport that writes results as they are (graphql-ws, graphql-sse): our codes,
 * and nothing of what yoga keeps for itself (`http`, `unexpected`).
 */
export function forTheWire(result: ExecutionResult, logger: Logger): ExecutionResult {
  if (!result.errors) return result;
  return {
    ...result,
    errors: result.errors.map((original) => {
      const error = coded(original, logger);
      const { http, unexpected, ...extensions } = error.extensions;
      if (http === undefined && unexpected === undefined) return error;
      return new GraphQLError(error.message, {
        ...(error.nodes ? { nodes: error.nodes } : {}),
        ...(error.path ? { path: error.path } : {}),
        extensions,
      });
    }),
  };
}

/** An error with one of our codes: its own, one from its HTTP status, or masked as unexpected. */
export function coded(error: GraphQLError, logger: Logger): GraphQLError {
  const code = codeOf(error);
  if (isErrorCode(code)) return error;
  const alias = typeof code === 'string' ? LIBRARY_CODES[code] : undefined;
  if (alias) return recode(error, alias, { override: true });
  const status = (error.extensions.http as { status?: unknown } | undefined)?.status;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return recode(error, codeForStatus(status), { override: true });
  }
  logger.error({ err: error.originalError ?? error }, 'an error without a code was masked');
  return new GraphQLError('Unexpected error.', {
    ...(error.nodes ? { nodes: error.nodes } : {}),
    ...(error.path ? { path: error.path } : {}),
    extensions: { code: 'INTERNAL_SERVER_ERROR', unexpected: true },
  });
}

const codeOf = (error: GraphQLError): unknown => error.extensions.code;
const hasOurCode = (error: GraphQLError) => isErrorCode(codeOf(error));

/** A copy of `error` with `code` (an existing code wins, unless `override`). */
function recode(error: GraphQLError, code: ErrorCode, { override = false } = {}): GraphQLError {
  return new GraphQLError(error.message, {
    ...(error.nodes
      ? { nodes: error.nodes }
      : { source: error.source, positions: error.positions }),
    ...(error.path ? { path: error.path } : {}),
    ...(error.originalError ? { originalError: error.originalError } : {}),
    extensions: override ? { ...error.extensions, code } : { code, ...error.extensions },
  });
}

// graphql-armor -----------------------------------------------------------------------------

type ArmorConfig = NonNullable<Parameters<typeof EnvelopArmorPlugin>[0]>;
type LimitName = 'maxDepth' | 'maxAliases' | 'maxDirectives' | 'maxTokens' | 'costLimit';

/** The code each graphql-armor limit refuses with. */
export const LIMIT_CODES = {
  maxDepth: 'MAX_DEPTH_EXCEEDED',
  maxAliases: 'MAX_ALIASES_EXCEEDED',
  maxDirectives: 'MAX_DIRECTIVES_EXCEEDED',
  maxTokens: 'MAX_TOKENS_EXCEEDED',
  costLimit: 'COST_LIMIT_EXCEEDED',
} as const satisfies Record<LimitName, ErrorCode>;

/**
 * graphql-armor's configuration with a code on each limit's refusal. Armor's own error has no
 * code and calls itself a "Syntax Error"; instead, a limit hit during validation is reported as
 * a validation error (so it answers like one), and the token limit, hit while parsing, throws
 * (so it answers like a parse error). Either way the rest of the request is not run.
 */
export function withLimitCodes(config: ArmorConfig): ArmorConfig {
  const out: ArmorConfig = { ...config };
  for (const name of Object.keys(LIMIT_CODES) as LimitName[]) {
    const limit = config[name];
    if (!limit) continue;
    const code = LIMIT_CODES[name];
    out[name] = {
      ...limit,
      propagateOnRejection: false,
      onReject: [
        ...(limit.onReject ?? []),
        (context, error) => {
          const refusal = new GraphQLError(error.message.replace(/^Syntax Error: /, ''), {
            extensions: { code },
          });
          if (!context) throw refusal;
          context.reportError(refusal);
        },
      ],
    };
  }
  return out;
}

// Variables ---------------------------------------------------------------------------------

type Path = (string | number)[];

/** One problem with a variable: `path` starts with the variable's name until it is located. */
interface Issue {
  readonly path: Path;
  readonly rule: ValidationRule;
  readonly message: (label: string) => string;
}

/**
 * BAD_USER_INPUT errors (one per argument) for variables that do not fit their types, or
 * undefined when they all fit. Over HTTP this is a request error: 400 to a client asking for
 * `application/graphql-response+json`, 200 to one asking for `application/json`.
 */
function variableErrors(args: ExecutionArgs): ExecutionResult | undefined {
  const operation = getOperationAST(args.document, args.operationName);
  if (!operation?.variableDefinitions?.length) return undefined;
  const values = (args.variableValues ?? {}) as Record<string, unknown>;
  const issues: Issue[] = [];
  for (const definition of operation.variableDefinitions) {
    const name = definition.variable.name.value;
    const type = typeFromAST(args.schema, definition.type);
    // An unknown or output type is a validation error, reported before execution.
    if (!type || !isInputType(type)) continue;
    if (Object.hasOwn(values, name)) checkValue(values[name], type, [name], issues);
    else if (isNonNullType(type) && !definition.defaultValue) issues.push(required([name]));
  }
  if (issues.length === 0) return undefined;
  const usages = variableUsages(args.document);
  const located = issues.map(({ path: [name, ...rest], ...issue }) => ({
    ...issue,
    path: [...(usages.get(String(name)) ?? [String(name)]), ...rest],
  }));
  const errors = byArgument(located);
  return { errors: overHttp(args) ? errors.map(asRequestError) : errors };
}

/** Whether yoga answers this operation over HTTP (graphql-ws's context has no `request`). */
const overHttp = (args: ExecutionArgs) =>
  (args.contextValue as { request?: unknown } | undefined)?.request !== undefined;

/** Tells yoga the status of a request error (it strips `http` before answering). */
const asRequestError = (error: GraphQLError) =>
  new GraphQLError(error.message, {
    extensions: { ...error.extensions, http: { spec: true, status: 400 } },
  });

/** The issues of `value` against `type`, as graphql-js coerces variables, with each path. */
function checkValue(value: unknown, type: GraphQLInputType, path: Path, out: Issue[]): void {
  if (isNonNullType(type)) {
    if (value === null || value === undefined) out.push(required(path));
    else checkValue(value, type.ofType, path, out);
    return;
  }
  if (value === null || value === undefined) return;
  if (isListType(type)) {
    // A single value stands for a list of one.
    if (!Array.isArray(value)) checkValue(value, type.ofType, path, out);
    else {
      value.forEach((item, index) => {
        checkValue(item, type.ofType, [...path, index], out);
      });
    }
    return;
  }
  if (isInputObjectType(type)) {
    if (typeof value !== 'object' || Array.isArray(value)) {
      out.push({ path, rule: 'type', message: (label) => `${label} must be an object` });
      return;
    }
    const fields = type.getFields();
    const object = value as Record<string, unknown>;
    for (const key of Object.keys(object)) {
      if (!Object.hasOwn(fields, key)) {
        out.push({
          path: [...path, key],
          rule: 'unknown_field',
          message: (label) => `${label} is not a field`,
        });
      }
    }
    for (const field of Object.values(fields)) {
      if (Object.hasOwn(object, field.name)) {
        checkValue(object[field.name], field.type, [...path, field.name], out);
      } else if (isNonNullType(field.type) && field.defaultValue === undefined) {
        out.push(required([...path, field.name]));
      }
    }
    return;
  }
  checkLeaf(value, type, path, out);
}

const GRAPHQL_INT = { min: -(2 ** 31), max: 2 ** 31 - 1 } as const;

/** What each built-in scalar expects, in the words of core's messages. */
const EXPECTED: Readonly<Record<string, string>> = {
  Int: 'a whole number',
  Float: 'a number',
  String: 'text',
  Boolean: 'true or false',
  ID: 'text or a whole number',
};

/** A scalar or enum: its own parser decides; the issue says what it expected. */
function checkLeaf(value: unknown, type: GraphQLLeafType, path: Path, out: Issue[]): void {
  let refusal: unknown;
  try {
    if (type.parseValue(value) !== undefined) return;
  } catch (error) {
    refusal = error;
  }
  if (type.name === 'Int' && typeof value === 'number' && Number.isFinite(value)) {
    if (!Number.isInteger(value)) {
      out.push({
        path,
        rule: 'integer',
        message: (label) => `${label} must be a whole number (got ${value})`,
      });
    } else {
      const bound = value > 0 ? 'max' : 'min';
      out.push({
        path,
        rule: bound,
        message: (label) => `${label} must be between ${GRAPHQL_INT.min} and ${GRAPHQL_INT.max}`,
      });
    }
    return;
  }
  if (isEnumType(type)) {
    const allowed = type.getValues().map((entry) => entry.name);
    out.push({
      path,
      rule: 'one_of',
      message: (label) => `${label} must be one of ${allowed.join(', ')}`,
    });
    return;
  }
  const expected = EXPECTED[type.name];
  const reason = refusal instanceof Error ? refusal.message : `not a valid ${type.name}`;
  out.push({
    path,
    rule: 'type',
    message: (label) => (expected ? `${label} must be ${expected}` : `${label}: ${reason}`),
  });
}

const required = (path: Path): Issue => ({
  path,
  rule: 'required',
  message: (label) => `${label} is required`,
});

/** One BAD_USER_INPUT per argument, like the resolvers': paths from the argument, all problems. */
function byArgument(issues: readonly Issue[]): GraphQLError[] {
  const grouped = new Map<string, ValidationIssue[]>();
  for (const { path, rule, message } of issues) {
    const [argument = 'variables', ...rest] = path;
    const list = grouped.get(String(argument)) ?? [];
    list.push({
      path: rest,
      rule,
      message: message(formatPath(rest.length > 0 ? rest : [argument])),
    });
    grouped.set(String(argument), list);
  }
  return [...grouped].map(([argument, list]) => badUserInput(argument, list));
}

// Where a value sits in the document ----------------------------------------------------------

/** Each variable's first use, as a path from the argument it feeds (`$p` in `input: { prompt: $p }`). */
function variableUsages(document: DocumentNode): Map<string, Path> {
  const usages = new Map<string, Path>();
  visit(document, {
    Variable(node, _key, parent, keys, ancestors) {
      const name = node.name.value;
      if (usages.has(name)) return;
      const path = argumentPath([...ancestors, parent], keys);
      if (path) usages.set(name, path);
    },
  });
  return usages;
}

/** The path from the enclosing argument to a node, given the nodes above it and their keys. */
function argumentPath(
  chain: readonly (ASTNode | readonly ASTNode[] | undefined)[],
  keys: readonly (string | number)[],
): Path | undefined {
  let path: Path | undefined;
  chain.forEach((node, index) => {
    if (!node || Array.isArray(node)) return;
    const kind = (node as ASTNode).kind;
    if (kind === Kind.ARGUMENT) path = [(node as { name: { value: string } }).name.value];
    else if (path && kind === Kind.OBJECT_FIELD)
      path.push((node as { name: { value: string } }).name.value);
    else if (path && kind === Kind.LIST) {
      const item = keys[index + 1];
      if (typeof item === 'number') path.push(item);
    }
  });
  return path;
}

/** A scalar's BAD_USER_INPUT in a literal, with its issue located from the literal's node. */
function literalError(document: DocumentNode, error: GraphQLError): GraphQLError {
  const target = error.nodes?.[0];
  let path: Path | undefined;
  if (target) {
    visit(document, {
      enter(node, _key, parent, keys, ancestors) {
        if (node !== target) return undefined;
        path = argumentPath([...ancestors, parent], keys);
        return false;
      },
    });
  }
  const [argument, ...rest] = path ?? [];
  if (argument === undefined) return recode(error, 'GRAPHQL_VALIDATION_FAILED');
  const reason = error.originalError?.message ?? error.message;
  const coded = badUserInput(String(argument), [
    {
      path: rest,
      rule: 'type',
      message: `${formatPath(rest.length > 0 ? rest : [argument])}: ${reason}`,
    },
  ]);
  return new GraphQLError(coded.message, {
    ...(error.nodes ? { nodes: error.nodes } : {}),
    extensions: coded.extensions,
  });
}
