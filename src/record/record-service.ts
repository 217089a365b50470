import { randomUUID } from 'node:crypto';
import type { Patient, Resource } from '@medplum/fhirtypes';
import type { GateScope, SearchResult } from '../access/gate-scope.ts';
import type { StoredRow } from '../store/resource-store.ts';
import { badRequest, preconditionFailed } from '../fhir/outcome.ts';
import { ownerReferences } from './compartment.ts';
import type { CompartmentResolver, PatientLinker, WritePolicy } from './hooks.ts';
import { assertResourceShape, validateOrThrow } from './validate.ts';

/** A conditional operation only needs to know whether 0, 1 or more resources match: no total, at most two rows. */
export function conditionalQuery(query: string): Array<[string, string]> {
  return [...[...new URLSearchParams(query)].filter(([k]) => k !== '_count' && k !== '_total'), ['_count', '2'], ['_total', 'none']];
}

export interface RecordDeps {
  linker: PatientLinker;
  policy: WritePolicy;
  compartment: CompartmentResolver;
}

export interface WriteOutcome {
  resource: Resource;
  status: 200 | 201;
  /** True when the data was not stored because of the person's privacy choices (the sender is not told). */
  discarded?: boolean;
}

/**
 * FHIR write semantics over the gate: validation, ids and versions, conditional create/update, If-Match,
 * MPI linking of Patients and the privacy intake decision. Reads are thin wrappers kept here so routes,
 * transactions and ingestion share one path.
 */
export class RecordService {
  constructor(private readonly deps: RecordDeps) {}

  async create(scope: GateScope, body: unknown, opts: { ifNoneExist?: string; id?: string; derived?: boolean } = {}): Promise<WriteOutcome> {
    assertResourceShape(body);
    if (opts.ifNoneExist) {
      const existing = await this.conditionalMatch(scope, body.resourceType, opts.ifNoneExist);
      if (existing) return { resource: existing, status: 200 };
    }
    validateOrThrow(body);
    return this.store(scope, { ...body, id: opts.id ?? randomUUID() }, undefined, opts.derived);
  }

  async update(scope: GateScope, type: string, id: string, body: unknown, ifMatch?: string): Promise<WriteOutcome> {
    assertResourceShape(body, type);
    if (body.id !== undefined && body.id !== id) throw badRequest(`The resource id "${String(body.id).slice(0, 64)}" does not match the URL id "${id}".`, ['id']);
    if (!/^[A-Za-z0-9\-.]{1,64}$/.test(id)) throw badRequest('Invalid resource id.', ['id']);
    validateOrThrow(body);
    const current = await scope.currentForWrite(type, id);
    if (ifMatch !== undefined) {
      const expected = /^(W\/)?"?([^"]+)"?$/.exec(ifMatch.trim())?.[2];
      if (!current || current.deleted || String(current.version_id) !== expected) {
        throw preconditionFailed(`Version conflict: If-Match ${ifMatch.slice(0, 40)} but current version is ${current?.version_id ?? 'none'}.`);
      }
    }
    return this.store(scope, { ...body, id }, current && !current.deleted ? current : current);
  }

  async conditionalUpdate(scope: GateScope, type: string, query: string, body: unknown): Promise<WriteOutcome> {
    assertResourceShape(body, type);
    const matches = await scope.searchType(type, conditionalQuery(query), false);
    if (matches.matches.length > 1) throw preconditionFailed(`Conditional update matched ${matches.matches.length} resources.`);
    const target = matches.matches[0];
    if (target) return this.update(scope, type, target.id!, { ...body, id: target.id }, undefined);
    if (body.id) return this.update(scope, type, body.id, body, undefined);
    return this.create(scope, body);
  }

  async conditionalMatch(scope: GateScope, type: string, query: string): Promise<Resource | undefined> {
    const found = await scope.searchType(type, conditionalQuery(query), false);
    if (found.matches.length > 1) throw preconditionFailed(`Conditional create matched ${found.matches.length} resources.`);
    return found.matches[0];
  }

  async search(scope: GateScope, type: string, query: Array<[string, string]>, strict: boolean): Promise<SearchResult> {
    return scope.searchType(type, query, strict);
  }

  private async store(scope: GateScope, resource: Resource & { id: string }, previous: StoredRow | undefined, derived = false): Promise<WriteOutcome> {
    const status = previous && !previous.deleted ? 200 : 201;
    const sourceOrg = scope.ctx.organizationId ?? (previous as { source_org?: string } | undefined)?.source_org ?? undefined;
    if (resource.resourceType === 'Patient') return this.storePatient(scope, resource as Patient & { id: string }, previous, sourceOrg, status);
    const patientId = this.deps.compartment(resource) ?? (await scope.compartmentOf(ownerReferences(resource)));
    const personId = patientId ? await this.deps.linker.personOf(scope, patientId) : undefined;
    const receivedAt = scope.settings.now.toISOString();
    const clinicalDate = this.deps.policy.clinicalDate(resource, receivedAt);
    if (personId) {
      const decision = await this.deps.policy.intake(scope, personId, resource, clinicalDate);
      if (decision !== 'store') return { resource, status, discarded: true };
    }
    const security = await this.deps.policy.labels(scope, resource);
    const written = await scope.write({ resource, patientId, personId, sourceOrg, security, clinicalDate, previous, action: status === 201 ? 'create' : 'update', derived });
    await this.deps.policy.afterWrite(scope, written, { patientId, personId, sourceOrg });
    return { resource: written, status };
  }

  private async storePatient(scope: GateScope, patient: Patient & { id: string }, previous: StoredRow | undefined, sourceOrg: string | undefined, status: 200 | 201): Promise<WriteOutcome> {
    const existingPerson = previous?.person_id ?? undefined;
    const written = (await scope.write({ resource: patient, patientId: patient.id, personId: existingPerson, sourceOrg, security: [], previous, action: status === 201 ? 'create' : 'update' })) as Patient & { id: string };
    // The MPI sees the record as sent (with its SSN); storage only ever holds the sealed copy.
    const personId = await this.deps.linker.link(scope, { ...patient, meta: written.meta });
    await this.deps.policy.afterWrite(scope, written, { patientId: patient.id, personId, sourceOrg });
    return { resource: written, status };
  }
}
