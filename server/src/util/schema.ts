import { Type, type TLiteral, type TUnion } from 'typebox';

/**
 * `Type.Union` of string literals built from a list. Built with `.map`, TypeBox types the union
 * as never (its static type needs a tuple); this keeps the same schema and types it as the list's values.
 */
export function literalUnion<const T extends readonly string[]>(values: T): TUnion<{ -readonly [K in keyof T]: TLiteral<T[K]> }> {
  return Type.Union(values.map((value) => Type.Literal(value))) as never;
}
