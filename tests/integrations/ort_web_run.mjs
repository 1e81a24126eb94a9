// Runs an ONNX file in onnxruntime-web (its WebAssembly build, under Node) on float32 rows read
// from a file, and prints each output as JSON: what a web page using barenet's export would get.
import * as ort from "onnxruntime-web";
import { readFileSync } from "node:fs";

const [model, inputs, rows, columns] = process.argv.slice(2);
ort.env.wasm.numThreads = 1;
const session = await ort.InferenceSession.create(readFileSync(model));
const bytes = readFileSync(inputs);
const data = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
const outputs = await session.run({ input: new ort.Tensor("float32", data, [Number(rows), Number(columns)]) });
console.log(JSON.stringify(Object.fromEntries(Object.entries(outputs).map(([name, t]) => [name, Array.from(t.data)]))));
