/**
 * Minimal ONNX model builder on top of the protobufjs classes of `onnx-proto`.
 *
 * `onnx-proto` 8.0.1 was generated from ONNX 1.10, so its `TensorProto.DataType` enum stops at BFLOAT16; the wire
 * fields are plain int32 though, so newer element types (FLOAT8E4M3FN = 17, FLOAT8E5M2 = 19, ...) are written by
 * number from {@link DataType}. Models are emitted with IR version 10 and the default-domain opset 21, the first
 * opset with `Cast`/`QuantizeLinear` `saturate` semantics for float8 and `output_dtype` on `QuantizeLinear`.
 *
 * Tensor raw data is little-endian (ONNX `raw_data` layout); {@link rawBytes} copies typed arrays as-is, which is
 * correct on the little-endian hosts ORT supports.
 */
import onnxProto from "onnx-proto";
import type { onnx as P } from "onnx-proto";

const { onnx } = onnxProto;

/** ONNX `TensorProto.DataType` codes (onnx.proto3, ONNX 1.18). */
export const DataType = {
  UNDEFINED: 0,
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  UINT16: 4,
  INT16: 5,
  INT32: 6,
  INT64: 7,
  STRING: 8,
  BOOL: 9,
  FLOAT16: 10,
  DOUBLE: 11,
  UINT32: 12,
  UINT64: 13,
  COMPLEX64: 14,
  COMPLEX128: 15,
  BFLOAT16: 16,
  FLOAT8E4M3FN: 17,
  FLOAT8E4M3FNUZ: 18,
  FLOAT8E5M2: 19,
  FLOAT8E5M2FNUZ: 20,
  UINT4: 21,
  INT4: 22,
  FLOAT4E2M1: 23,
} as const;
export type DataType = (typeof DataType)[keyof typeof DataType];

/** Default-domain opset used when none is given. */
export const DEFAULT_OPSET = 21;
/** IR version matching opset 21 (ONNX 1.16). */
export const DEFAULT_IR_VERSION = 10;

/** A dimension: fixed size, symbolic name, or unknown (`null`). */
export type Dim = number | string | null;

export interface ValueInfo {
  readonly name: string;
  readonly type: DataType;
  /** `undefined` leaves the rank unknown. */
  readonly shape?: readonly Dim[];
}

/** Initializer (or tensor attribute): `data` is the little-endian `raw_data` payload. */
export interface TensorSpec {
  readonly name: string;
  readonly type: DataType;
  readonly dims: readonly number[];
  readonly data: Uint8Array;
}

export type AttributeValue =
  | { readonly kind: "int"; readonly value: number }
  | { readonly kind: "float"; readonly value: number }
  | { readonly kind: "string"; readonly value: string }
  | { readonly kind: "ints"; readonly value: readonly number[] }
  | { readonly kind: "floats"; readonly value: readonly number[] }
  | { readonly kind: "strings"; readonly value: readonly string[] }
  | { readonly kind: "tensor"; readonly value: TensorSpec };

/** Attribute constructors; ONNX distinguishes int and float attributes, so a bare JS number is ambiguous. */
export const attr = {
  int: (value: number | boolean): AttributeValue => ({
    kind: "int",
    value: typeof value === "boolean" ? +value : value,
  }),
  float: (value: number): AttributeValue => ({ kind: "float", value }),
  string: (value: string): AttributeValue => ({ kind: "string", value }),
  ints: (value: readonly number[]): AttributeValue => ({ kind: "ints", value }),
  floats: (value: readonly number[]): AttributeValue => ({ kind: "floats", value }),
  strings: (value: readonly string[]): AttributeValue => ({ kind: "strings", value }),
  tensor: (value: TensorSpec): AttributeValue => ({ kind: "tensor", value }),
} as const;

export interface NodeSpec {
  readonly opType: string;
  /** Use "" for an omitted optional input. */
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly attributes?: Readonly<Record<string, AttributeValue>>;
  readonly name?: string;
  /** Operator domain; "" (default) is ai.onnx. */
  readonly domain?: string;
}

export interface ModelSpec {
  readonly inputs: readonly ValueInfo[];
  readonly outputs: readonly ValueInfo[];
  /** Nodes in topological order. */
  readonly nodes: readonly NodeSpec[];
  readonly initializers?: readonly TensorSpec[];
  readonly graphName?: string;
  /** Default-domain opset version. */
  readonly opset?: number;
  /** Extra opset imports, e.g. `{ "com.microsoft": 1 }`. */
  readonly extraOpsets?: Readonly<Record<string, number>>;
  readonly irVersion?: number;
  readonly producerName?: string;
}

/** Byte view of a typed array's contents (no copy); ONNX raw_data is little-endian like every ORT host. */
export function rawBytes(data: ArrayBufferView): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/** Element count of a tensor with the given dims (1 for a scalar). */
export function elementCount(dims: readonly number[]): number {
  return dims.reduce((n, d) => n * d, 1);
}

/** Bytes per element of the fixed-width types this builder can size-check (sub-byte and string types excluded). */
const ELEMENT_BYTES: Partial<Record<DataType, number>> = {
  [DataType.FLOAT]: 4,
  [DataType.UINT8]: 1,
  [DataType.INT8]: 1,
  [DataType.UINT16]: 2,
  [DataType.INT16]: 2,
  [DataType.INT32]: 4,
  [DataType.INT64]: 8,
  [DataType.BOOL]: 1,
  [DataType.FLOAT16]: 2,
  [DataType.DOUBLE]: 8,
  [DataType.UINT32]: 4,
  [DataType.UINT64]: 8,
  [DataType.BFLOAT16]: 2,
  [DataType.FLOAT8E4M3FN]: 1,
  [DataType.FLOAT8E4M3FNUZ]: 1,
  [DataType.FLOAT8E5M2]: 1,
  [DataType.FLOAT8E5M2FNUZ]: 1,
};

function checkInt64(value: number, what: string): number {
  if (!Number.isSafeInteger(value)) throw new RangeError(`${what} must be a safe integer, got ${value}`);
  return value;
}

function tensorProto(spec: TensorSpec): P.ITensorProto {
  spec.dims.forEach((d, i) => {
    if (checkInt64(d, `dims[${i}] of tensor ${spec.name}`) < 0) throw new RangeError(`negative dim in ${spec.name}`);
  });
  const width = ELEMENT_BYTES[spec.type];
  if (width !== undefined && spec.data.byteLength !== width * elementCount(spec.dims)) {
    throw new RangeError(
      `tensor ${spec.name}: ${spec.data.byteLength} bytes of raw data for dims [${spec.dims.join(", ")}] ` +
        `of ${width}-byte type ${spec.type}`,
    );
  }
  return { name: spec.name, dataType: spec.type, dims: [...spec.dims], rawData: spec.data };
}

function valueInfoProto(info: ValueInfo): P.IValueInfoProto {
  const tensorType: P.TypeProto.ITensor = { elemType: info.type };
  if (info.shape !== undefined) {
    tensorType.shape = {
      dim: info.shape.map((d): P.TensorShapeProto.IDimension => {
        if (d === null) return {};
        if (typeof d === "string") return { dimParam: d };
        return { dimValue: checkInt64(d, `dim of ${info.name}`) };
      }),
    };
  }
  return { name: info.name, type: { tensorType } };
}

const utf8 = new TextEncoder();
const AttributeType = onnx.AttributeProto.AttributeType;

function attributeProto(name: string, a: AttributeValue): P.IAttributeProto {
  switch (a.kind) {
    case "int":
      return { name, type: AttributeType.INT, i: checkInt64(a.value, `attribute ${name}`) };
    case "float":
      return { name, type: AttributeType.FLOAT, f: a.value };
    case "string":
      return { name, type: AttributeType.STRING, s: utf8.encode(a.value) };
    case "ints":
      return { name, type: AttributeType.INTS, ints: a.value.map((v) => checkInt64(v, `attribute ${name}`)) };
    case "floats":
      return { name, type: AttributeType.FLOATS, floats: [...a.value] };
    case "strings":
      return { name, type: AttributeType.STRINGS, strings: a.value.map((s) => utf8.encode(s)) };
    case "tensor":
      return { name, type: AttributeType.TENSOR, t: tensorProto(a.value) };
  }
}

function nodeProto(spec: NodeSpec, index: number): P.INodeProto {
  return {
    name: spec.name ?? `${spec.opType}_${index}`,
    opType: spec.opType,
    domain: spec.domain ?? "",
    input: [...spec.inputs],
    output: [...spec.outputs],
    attribute: Object.entries(spec.attributes ?? {}).map(([name, a]) => attributeProto(name, a)),
  };
}

/** Serializes a model to ModelProto bytes, loadable by `InferenceSession.create(bytes)`. */
export function buildModel(spec: ModelSpec): Uint8Array {
  const opsetImport: P.IOperatorSetIdProto[] = [{ domain: "", version: spec.opset ?? DEFAULT_OPSET }];
  for (const [domain, version] of Object.entries(spec.extraOpsets ?? {})) opsetImport.push({ domain, version });
  const model = onnx.ModelProto.create({
    irVersion: spec.irVersion ?? DEFAULT_IR_VERSION,
    producerName: spec.producerName ?? "demle",
    opsetImport,
    graph: {
      name: spec.graphName ?? "graph",
      input: spec.inputs.map(valueInfoProto),
      output: spec.outputs.map(valueInfoProto),
      initializer: (spec.initializers ?? []).map(tensorProto),
      node: spec.nodes.map(nodeProto),
    },
  });
  const err = onnx.ModelProto.verify(model);
  if (err !== null) throw new Error(`invalid ModelProto: ${err}`);
  return onnx.ModelProto.encode(model).finish();
}

/**
 * Incremental form of {@link buildModel} with generated value names:
 *
 * ```ts
 * const g = new GraphBuilder();
 * const x = g.input("x", DataType.FLOAT, [n]);
 * const [q] = g.node("Cast", [x], { attributes: { to: attr.int(DataType.FLOAT8E4M3FN), saturate: attr.int(1) } });
 * g.output(g.node("Cast", [q], { attributes: { to: attr.int(DataType.FLOAT) } })[0], DataType.FLOAT, [n]);
 * const bytes = g.build();
 * ```
 */
export class GraphBuilder {
  private readonly inputs: ValueInfo[] = [];
  private readonly outputs: ValueInfo[] = [];
  private readonly nodes: NodeSpec[] = [];
  private readonly initializers: TensorSpec[] = [];
  private readonly names = new Set<string>();
  private counter = 0;

  /** A fresh value name starting with `prefix`. */
  fresh(prefix = "v"): string {
    let name: string;
    do name = `${prefix}_${this.counter++}`;
    while (this.names.has(name));
    this.names.add(name);
    return name;
  }

  private claim(name: string): string {
    if (this.names.has(name)) throw new Error(`duplicate value name ${name}`);
    this.names.add(name);
    return name;
  }

  input(name: string, type: DataType, shape?: readonly Dim[]): string {
    this.inputs.push({ name: this.claim(name), type, shape });
    return name;
  }

  /** Declares an existing value (node output, initializer or input) as a graph output. */
  output(name: string, type: DataType, shape?: readonly Dim[]): string {
    this.outputs.push({ name, type, shape });
    return name;
  }

  /** Adds an initializer; `name` defaults to a fresh one. Returns the value name. */
  initializer(type: DataType, dims: readonly number[], data: Uint8Array | ArrayBufferView, name?: string): string {
    const n = name === undefined ? this.fresh("init") : this.claim(name);
    const bytes = data instanceof Uint8Array ? data : rawBytes(data);
    this.initializers.push({ name: n, type, dims, data: bytes });
    return n;
  }

  /** Adds a node; outputs default to `count` fresh names (1 unless given). Returns the output names. */
  node(
    opType: string,
    inputs: readonly string[],
    options: {
      attributes?: Readonly<Record<string, AttributeValue>>;
      outputs?: readonly string[];
      count?: number;
      domain?: string;
      name?: string;
    } = {},
  ): string[] {
    const outputs =
      options.outputs?.map((o) => this.claim(o)) ??
      Array.from({ length: options.count ?? 1 }, () => this.fresh(opType.toLowerCase()));
    this.nodes.push({
      opType,
      inputs,
      outputs,
      attributes: options.attributes,
      domain: options.domain,
      name: options.name,
    });
    return outputs;
  }

  spec(options: Omit<ModelSpec, "inputs" | "outputs" | "nodes" | "initializers"> = {}): ModelSpec {
    return {
      ...options,
      inputs: [...this.inputs],
      outputs: [...this.outputs],
      nodes: [...this.nodes],
      initializers: [...this.initializers],
    };
  }

  build(options: Omit<ModelSpec, "inputs" | "outputs" | "nodes" | "initializers"> = {}): Uint8Array {
    return buildModel(this.spec(options));
  }
}

/**
 * The FP8 (E4M3FN) boundary inside a graph. Adds the initializers `fp8_scale` (float32 1) and `fp8_zero_point`
 * (FLOAT8E4M3FN 0) to `g` and returns `throughFp8(value, { tag, scale })`, which sends a float32 value through
 * QuantizeLinear to FLOAT8E4M3FN (saturate default 1; the zero point's type makes the output float8) and
 * DequantizeLinear back to float32 with the same scale (default `fp8_scale`). The nodes are `quantize_<tag>` and
 * `dequantize_<tag>`, their outputs `<tag>_fp8` and `<tag>_dequantized` (tag default: the value's name); the
 * dequantized value's name is returned.
 */
export function fp8QuantizeDequantize(
  g: GraphBuilder,
): (value: string, options?: { tag?: string; scale?: string }) => string {
  const unitScale = g.initializer(DataType.FLOAT, [], new Float32Array([1]), "fp8_scale");
  const zeroPoint = g.initializer(DataType.FLOAT8E4M3FN, [], new Uint8Array([0]), "fp8_zero_point");
  return (value, { tag = value, scale = unitScale } = {}) => {
    const [q] = g.node("QuantizeLinear", [value, scale, zeroPoint], {
      outputs: [`${tag}_fp8`],
      name: `quantize_${tag}`,
    });
    const [dq] = g.node("DequantizeLinear", [q!, scale, zeroPoint], {
      outputs: [`${tag}_dequantized`],
      name: `dequantize_${tag}`,
    });
    return dq!;
  };
}
