import type { FastifyInstance } from 'fastify';
import { activeBreakGlass, attest, breakGlass } from '../../access/grants.ts';
import { authorizeWriteScope } from '../../access/authorize.ts';
import { badRequest, forbidden } from '../../fhir/outcome.ts';
import {
  buildOptIn, buildOptOut, buildShareCategory, buildWithholdCategory, validateConsentDate, type ConsentChannel, type ConsentDateRefusal,
} from '../../privacy/consent.ts';
import type { SensitivityLabel } from '../../privacy/labels/value-set-types.ts';
import { personPrivacy } from '../../record/write-policy.ts';
import type { Services } from '../../services.ts';
import { parameters, stringParam } from '../parameters.ts';
import { personOfPatient } from './operations.ts';

const FHIR_JSON = 'application/fhir+json; charset=utf-8';
const LABELS = ['PSY', 'HIV', 'ETH'];
const ACTIONS = ['opt-out', 'opt-in', 'share', 'withhold'];

type IdRequest = { Params: { id: string }; Body: unknown };

const DATE_REFUSALS: Record<ConsentDateRefusal, (graceDays: number) => string> = {
  'invalid-date': () => 'date is not a valid date.',
  'back-dated': (graceDays) => `A choice cannot be back-dated more than ${graceDays} days.`,
  future: () => 'A choice cannot be dated in the future: it takes effect when it is recorded. Record it on the day it takes effect.',
};

/** Break-the-glass, attestation and the patient's privacy choices. */
export async function privacyOperationRoutes(app: FastifyInstance, s: Services): Promise<void> {
  app.post<IdRequest>('/fhir/Patient/:id/$break-the-glass', async (request, reply) => {
    const reason = stringParam(request.body, 'reason', true)!;
    const grant = await s.gate.run(request.ctx, { action: 'break-glass' }, async (scope) =>
      breakGlass(scope, await personOfPatient(s, scope, request.params.id), reason, s.config.breakGlassHours));
    return reply.type(FHIR_JSON).send(parameters({ expires: grant.expiresAt, hours: s.config.breakGlassHours }));
  });

  app.get<IdRequest>('/fhir/Patient/:id/$break-the-glass', async (request, reply) => {
    const grant = await s.gate.run(request.ctx, { action: 'read', query: '$break-the-glass status' }, async (scope) =>
      activeBreakGlass(scope, await personOfPatient(s, scope, request.params.id)));
    return reply.type(FHIR_JSON).send(parameters({ active: !!grant, expires: grant?.expiresAt }));
  });

  app.post<IdRequest>('/fhir/Patient/:id/$attest', async (request, reply) => {
    const reason = stringParam(request.body, 'reason', true)!;
    const grant = await s.gate.run(request.ctx, { action: 'attest' }, async (scope) =>
      attest(scope, await personOfPatient(s, scope, request.params.id), reason, s.config.attestationDays));
    return reply.type(FHIR_JSON).send(parameters({ expires: grant.expiresAt }));
  });

  app.get<IdRequest>('/fhir/Patient/:id/$consent-status', async (request, reply) => {
    const state = await s.gate.run(request.ctx, { action: 'read', query: '$consent-status' }, async (scope) => {
      const personId = await personOfPatient(s, scope, request.params.id);
      assertConsentRole(request.ctx.role, request.ctx.personId, personId);
      // A patient's privacy choices (opt-out, shared categories) are only for clinicians caring for them.
      if (request.ctx.role === 'clinician' || request.ctx.role === 'clinical-staff') await scope.assertClinicalAccess(personId);
      return personPrivacy(scope, personId);
    });
    return reply.type(FHIR_JSON).send(parameters({ optedOut: state.optedOut, optedOutAt: state.optedOutAt, optInDate: state.optInDate, shared: state.shared }));
  });

  app.post<IdRequest>('/fhir/Patient/:id/$consent', async (request, reply) => {
    const action = stringParam(request.body, 'action', true)!;
    if (!ACTIONS.includes(action)) throw badRequest(`action must be one of ${ACTIONS.join(', ')}.`, ['action']);
    const category = stringParam(request.body, 'category');
    if ((action === 'share' || action === 'withhold') && (!category || !LABELS.includes(category))) {
      throw badRequest('category must be PSY (mental health), HIV or ETH (substance use).', ['category']);
    }
    const ctx = request.ctx;
    const channel = (stringParam(request.body, 'channel') ?? (ctx.role === 'patient' ? 'online' : 'paper')) as ConsentChannel;
    if (!['online', 'paper', 'phone'].includes(channel)) throw badRequest('channel must be online, paper or phone.', ['channel']);
    const now = new Date();
    const check = validateConsentDate(stringParam(request.body, 'date') ?? now.toISOString(), now, s.config.consentBackdateGraceDays);
    if (!check.ok) throw badRequest(DATE_REFUSALS[check.reason](s.config.consentBackdateGraceDays), ['date']);
    const date = check.effective;
    const state = await s.gate.run(ctx, { action: 'consent' }, async (scope) => {
      authorizeWriteScope(ctx, 'Consent', 'c');
      const personId = await personOfPatient(s, scope, request.params.id);
      assertConsentRole(ctx.role, ctx.personId, personId, true);
      const input = { patientRef: `Patient/${request.params.id}`, channel, date, performer: ctx.userId ? `Practitioner/${ctx.userId}` : `Patient/${request.params.id}`, recordedAt: now.toISOString() };
      const labels = [category as SensitivityLabel];
      const consent = action === 'opt-out' ? buildOptOut(input) : action === 'opt-in' ? buildOptIn(input)
        : action === 'share' ? buildShareCategory({ ...input, labels }) : buildWithholdCategory({ ...input, labels });
      if (ctx.role === 'patient') consent.performer = [{ reference: `Patient/${request.params.id}` }];
      else consent.performer = [{ display: ctx.displayName }];
      await s.records.create(scope, consent, { derived: true });
      scope.note('consent', [personId], [], { detail: `${action}${category ? ` ${category}` : ''} via ${channel}` });
      return personPrivacy(scope, personId);
    });
    return reply.type(FHIR_JSON).send(parameters({ optedOut: state.optedOut, optedOutAt: state.optedOutAt, optInDate: state.optInDate, shared: state.shared }));
  });
}

/** Consent records: the patient for themselves; registrars and privacy officers for anyone (paper/phone forms). */
function assertConsentRole(role: string, ownPerson: string | undefined, personId: string, write = false): void {
  if (role === 'patient') {
    if (ownPerson !== personId) throw forbidden('Patients may only make choices about their own record.');
    return;
  }
  if (role === 'registrar' || role === 'privacy-officer') return;
  if (!write && (role === 'clinician' || role === 'clinical-staff')) return;
  throw forbidden(`The ${role} role may not ${write ? 'record' : 'read'} privacy choices.`);
}
