import { hashingCost } from "../src/security/passwords.js";

// Real argon2id at its lowest cost: the production cost only slows the tests down.
Object.assign(hashingCost, { memoryCost: 1024, timeCost: 1, parallelism: 1 });
