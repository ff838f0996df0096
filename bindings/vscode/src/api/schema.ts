// The tether.v1 schema: the committed FileDescriptorSet, loaded without protoc, and the gRPC
// service constructors made from it.

import * as fs from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

/** The file name of the schema, beside the bundle and in the Python bindings. */
export const SCHEMA_FILE = 'tether_v1.binpb';

/** How messages are decoded; `types.ts` describes the shapes these options give. */
const LOADER_OPTIONS: protoLoader.Options = {
  keepCase: false,
  longs: Number,
  enums: String,
  defaults: true,
  oneofs: true,
};

/** The service constructors of tether.v1. */
export interface Services {
  DaemonService: grpc.ServiceClientConstructor;
  ForwardService: grpc.ServiceClientConstructor;
  SessionService: grpc.ServiceClientConstructor;
}

/** The package definition, for clients and for fake servers in tests. */
export function loadDefinition(file: string): protoLoader.PackageDefinition {
  return protoLoader.loadFileDescriptorSetFromBuffer(fs.readFileSync(file), LOADER_OPTIONS);
}

/** Loads the schema at `file` (a FileDescriptorSet) and returns tether.v1's services. */
export function loadServices(file: string): Services {
  const root = grpc.loadPackageDefinition(loadDefinition(file)) as unknown as {
    tether?: { v1?: Partial<Services> };
  };
  const v1 = root.tether?.v1;
  if (!v1?.DaemonService || !v1.ForwardService || !v1.SessionService) {
    throw new Error(`failed to load the tether.v1 services from ${file}`);
  }
  return v1 as Services;
}
