// Compile the contracts under src/ with the npm package solc and write one artifact
// JSON per contract (abi, bytecode, deployedBytecode, compiler settings) into the
// folder given as the first argument. The output is byte-for-byte reproducible, so
// the harness's tests rebuild it and compare with the committed copy.
//
//   node build.mjs ../fixtures/contracts
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import solc from "solc";

const here = dirname(fileURLToPath(import.meta.url));
const outDir = process.argv[2];
if (!outDir) {
  console.error("usage: node build.mjs OUTPUT_DIR");
  process.exit(2);
}

// Shanghai is the newest fork that py-evm, Anvil, Hardhat and Besu all run; the
// optimizer with via-IR keeps issue()'s thirteen-field event within the stack.
const settings = {
  evmVersion: "shanghai",
  viaIR: true,
  optimizer: { enabled: true, runs: 200 },
  outputSelection: { "*": { "*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"] } },
};

const srcDir = join(here, "src");
const sources = {};
for (const name of readdirSync(srcDir).sort()) {
  if (name.endsWith(".sol")) {
    sources[name] = { content: readFileSync(join(srcDir, name), "utf8") };
  }
}

const output = JSON.parse(solc.compile(JSON.stringify({ language: "Solidity", sources, settings })));
const errors = (output.errors || []).filter((e) => e.severity === "error");
for (const message of output.errors || []) {
  console.error(message.formattedMessage);
}
if (errors.length > 0) {
  process.exit(1);
}

mkdirSync(outDir, { recursive: true });
for (const [sourceName, contracts] of Object.entries(output.contracts)) {
  for (const [contractName, compiled] of Object.entries(contracts)) {
    const bytecode = compiled.evm.bytecode.object;
    if (!bytecode) {
      continue; // interfaces have no code
    }
    const artifact = {
      contractName,
      sourceName,
      compiler: { name: "solc", version: solc.version(), settings: { ...settings, outputSelection: undefined } },
      abi: compiled.abi,
      bytecode: "0x" + bytecode,
      deployedBytecode: "0x" + compiled.evm.deployedBytecode.object,
    };
    const target = join(outDir, `${contractName}.json`);
    writeFileSync(target, JSON.stringify(artifact, null, 2) + "\n");
    console.log(`wrote ${target}`);
  }
}
