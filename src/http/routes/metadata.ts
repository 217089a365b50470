import type { FastifyInstance } from 'fastify';
import type { CapabilityStatement, CapabilityStatementRestResource } from '@medplum/fhirtypes';
import { getAllDataTypes } from '@medplum/core';
import { auditSearchParams } from '../../audit/search-query.ts';
import { isStorableType, loadFhirDefinitions } from '../../fhir/definitions.ts';
import { supportedSearchParams } from '../../store/search/search-parameters.ts';
import type { Services } from '../../services.ts';

const BULK_DATA = 'http://hl7.org/fhir/uv/bulkdata';
const INTERACTIONS = ['read', 'vread', 'update', 'delete', 'history-instance', 'history-type', 'create', 'search-type'] as const;

function resourceEntry(type: string): CapabilityStatementRestResource {
  return {
    type: type as CapabilityStatementRestResource['type'],
    versioning: 'versioned-update',
    readHistory: true,
    updateCreate: true,
    conditionalCreate: true,
    conditionalUpdate: true,
    conditionalDelete: 'not-supported',
    interaction: INTERACTIONS.map((code) => ({ code })),
    searchInclude: ['*'],
    searchRevInclude: ['*'],
    searchParam: supportedSearchParams(type).map((p) => ({ name: p.name, type: p.type, definition: p.definition })),
    ...(type === 'Patient'
      ? {
        operation: [
          ...['everything', 'match', 'ihe-pix', 'break-the-glass', 'attest', 'consent-status', 'consent', 'access-report'].map((name) => ({ name, definition: `https://katahdin.org/fhir/OperationDefinition/Patient-${name}` })),
          { name: 'export', definition: `${BULK_DATA}/OperationDefinition/patient-export` },
        ],
      }
      : {}),
    ...(type === 'Group' ? { operation: [{ name: 'export', definition: `${BULK_DATA}/OperationDefinition/group-export` }] } : {}),
  };
}

/** The audit log is written by Katahdin alone and read by privacy officers (`audit-event-routes.ts`). */
function auditEventEntry(): CapabilityStatementRestResource {
  return { type: 'AuditEvent', interaction: [{ code: 'read' }, { code: 'search-type' }], searchParam: auditSearchParams() };
}

let cached: CapabilityStatement | undefined;

/** What the server really supports, generated from the same definitions the search compiler uses. */
export function capabilityStatement(publicUrl: string): CapabilityStatement {
  loadFhirDefinitions();
  cached ??= {
    resourceType: 'CapabilityStatement',
    instantiates: [`${BULK_DATA}/CapabilityStatement/bulk-data`],
    status: 'active',
    date: '2026-11-25',
    kind: 'instance',
    software: { name: 'Katahdin', version: '0.1.0' },
    implementation: { description: 'Katahdin health information exchange', url: `${publicUrl}/fhir` },
    fhirVersion: '4.0.1',
    format: ['application/fhir+json', 'json'],
    rest: [{
      mode: 'server',
      security: {
        cors: false,
        service: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/restful-security-service', code: 'SMART-on-FHIR' }] }],
        extension: [{
          url: 'http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris',
          extension: [{ url: 'token', valueUri: `${publicUrl}/oauth/token` }, { url: 'authorize', valueUri: `${publicUrl}/oauth/authorize` }],
        }],
      },
      resource: Object.keys(getAllDataTypes()).filter(isStorableType).sort().map((type) => (type === 'AuditEvent' ? auditEventEntry() : resourceEntry(type))),
      interaction: [{ code: 'transaction' }, { code: 'batch' }, { code: 'history-system' }],
      operation: [
        { name: 'validate', definition: 'http://hl7.org/fhir/OperationDefinition/Resource-validate' },
        { name: 'export', definition: `${BULK_DATA}/OperationDefinition/export` },
      ],
    }],
  };
  return cached;
}

export async function metadataRoutes(app: FastifyInstance, s: Services): Promise<void> {
  app.get('/fhir/metadata', async (_request, reply) => reply.type('application/fhir+json; charset=utf-8').send(capabilityStatement(s.config.publicUrl)));
}
