import { Type, type Static } from 'typebox';
import { DEFAULT_CHARSET_TERMS } from '../../dicom/charsets.js';
import { literalUnion } from '../../util/schema.js';

/** DICOM AE title: 1–16 characters of the default repertoire, no backslash or control characters, not all spaces. */
export const AeTitle = Type.String({ minLength: 1, maxLength: 16, pattern: '^(?! *$)[\\x20-\\x5B\\x5D-\\x7E]{1,16}$' });
/** A dotted IPv4 address other than 0.0.0.0 (the spec's rule; host names are not accepted). */
export const Ipv4 = Type.String({
  pattern: '^(?!0+\\.0+\\.0+\\.0+$)((25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)\\.){3}(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)$',
});
export const Port = Type.Integer({ minimum: 1, maximum: 65535 });
/** A DICOM UID: dot-separated numeric components, at most 64 characters. */
export const DicomUid = Type.String({ minLength: 1, maxLength: 64, pattern: '^[0-9]+(\\.[0-9]+)*$' });

export const PacsNodeBody = Type.Object({
  name: Type.String({ minLength: 3, maxLength: 16, pattern: '\\S' }),
  type: Type.Literal('PACS'),
  address: Ipv4,
  port: Port,
  aet: AeTitle,
  aec: AeTitle,
  is_enabled: Type.Boolean(),
  is_default: Type.Boolean(),
  params: Type.Optional(
    Type.Record(Type.String({ maxLength: 64 }), Type.Union([Type.String({ maxLength: 256 }), Type.Number(), Type.Boolean()])),
  ),
  // Ours, beside the spec's fields: what the node may do to us (docs/architecture.md, decisions).
  // Left out: a new node may not store, query or retrieve; a changed node keeps what it had.
  // Granting may_store (or changing a storing node's AE title or address) needs system:security.
  may_store: Type.Optional(Type.Boolean()),
  may_query: Type.Optional(Type.Boolean()),
  may_retrieve: Type.Optional(Type.Boolean()),
  /** How the node's undeclared text is read and the set we write for it; '' (or left out): the site's default. */
  charset: Type.Optional(literalUnion(['', ...DEFAULT_CHARSET_TERMS])),
});
export type PacsNodeInput = Static<typeof PacsNodeBody>;

export const PacsIdParams = Type.Object({ id: Type.Integer({ minimum: 1 }) });
