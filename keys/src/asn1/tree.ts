import * as asn1js from 'asn1js';

/**
 * A parsed BER/DER element, reduced to what the CMS code asks of it. asn1js does the parsing
 * (definite and indefinite lengths); this view keeps the exact encoded bytes of every element,
 * which IssuerAndSerialNumber matching needs.
 */
export interface Asn1Node {
  /** 0 universal, 1 application, 2 context-specific, 3 private (X.690 numbering). */
  tagClass: number;
  tagNumber: number;
  constructed: boolean;
  /** The whole element as encoded: identifier, length, contents. */
  raw: Buffer;
  /** Contents octets of a primitive element (empty for constructed ones). */
  contents: Buffer;
  children: Asn1Node[];
}

export const UNIVERSAL = 0;
export const CONTEXT = 2;

/** Parse one element that must fill `bytes`; throws `what: reason` on malformed input. */
export function parseAsn1(bytes: Uint8Array, what: string): Asn1Node {
  const view = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const parsed = asn1js.fromBER(view);
  if (parsed.offset === -1) throw new Error(`${what}: not valid ASN.1 (${parsed.result.error || 'parse error'})`);
  if (parsed.offset !== bytes.byteLength)
    throw new Error(`${what}: ${bytes.byteLength - parsed.offset} trailing bytes`);
  return toNode(parsed.result);
}

function toNode(block: asn1js.AsnType): Asn1Node {
  const b = block as asn1js.BaseBlock<any>;
  const id = b.idBlock;
  // asn1js numbers tag classes 1..4; X.690 numbers them 0..3
  const tagClass = id.tagClass - 1;
  const raw = Buffer.from(b.valueBeforeDecodeView);
  const constructed = id.isConstructed;
  // only constructed elements have child elements (an OID's value array holds its arcs)
  const value = (b.valueBlock as { value?: unknown }).value;
  const children = constructed && Array.isArray(value) ? (value as asn1js.AsnType[]).map(toNode) : [];
  // primitive elements always have a definite length: the contents are the tail of the encoding
  const contentLength = (b.lenBlock as { length: number }).length;
  return {
    tagClass,
    tagNumber: id.tagNumber,
    constructed,
    raw,
    contents: constructed ? Buffer.alloc(0) : raw.subarray(raw.length - contentLength),
    children,
  };
}

/** The child at `index`, or an error naming `what`. */
export function child(node: Asn1Node, index: number, what: string): Asn1Node {
  const c = node.children[index];
  if (!c) throw new Error(`${what}: missing element ${index}`);
  return c;
}

/** Contents of an OCTET STRING, primitive or constructed (segments concatenated). */
export function octetStringValue(node: Asn1Node): Buffer {
  if (!node.constructed) return node.contents;
  return Buffer.concat(node.children.map(octetStringValue));
}
