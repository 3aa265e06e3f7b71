import { MemoryBroker } from '../../src/brokers/memory.js';
import { runBrokerContract } from '../contract/broker-contract.js';

runBrokerContract('memory', async (history) => new MemoryBroker(history));
