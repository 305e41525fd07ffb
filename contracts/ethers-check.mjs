// A compatibility check of the harness's JSON-RPC endpoint with ethers v6, run by
// tests/integration/ethereum/test_eth_rpc_clients.py:
//   node ethers-check.mjs CONFIG.json   (CONFIG: {"url", "keys": {name: hex key}})
// Deploys the token contract, registers an auditor, issues type 3, reads the
// TokenCreated event and a revert reason; prints one JSON object.
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { ContractFactory, JsonRpcProvider, Wallet } from "ethers";

const here = dirname(fileURLToPath(import.meta.url));
const config = JSON.parse(readFileSync(process.argv[2], "utf8"));
const artifact = JSON.parse(
  readFileSync(join(here, "..", "fixtures", "contracts", "EmissionsTokenNetwork.json"), "utf8"),
);

// ethers caches identical calls for 250 ms; with a chain that mines each
// transaction at once, a cached eth_getTransactionCount hands out a spent nonce.
const provider = new JsonRpcProvider(config.url, undefined, { cacheTimeout: -1 });
const admin = new Wallet(config.keys.admin, provider);
const auditor = new Wallet(config.keys.emissions_auditor, provider);
const consumer = new Wallet(config.keys.consumer_1, provider);

const factory = new ContractFactory(artifact.abi, artifact.bytecode, admin);
const token = await factory.deploy();
await token.waitForDeployment();
await (await token.registerDealer(auditor.address, 3)).wait();

const receipt = await (
  await token.connect(auditor).issue(consumer.address, 3, 700, 1, 2, 0, "{}", "m", "d")
).wait();
const created = receipt.logs
  .map((log) => token.interface.parseLog(log))
  .find((parsed) => parsed && parsed.name === "TokenCreated");

let revert = null;
try {
  await token.connect(admin).issue.staticCall(consumer.address, 3, 1, 1, 2, 0, "", "", "");
} catch (error) {
  revert = error.reason;
}

const network = await provider.getNetwork();
console.log(
  JSON.stringify({
    chainId: network.chainId.toString(),
    tokenId: created.args.tokenId.toString(),
    retiredBalance: created.args.retiredBalance.toString(),
    revert,
  }),
);
