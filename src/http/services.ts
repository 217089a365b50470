import type { Services } from '../services.ts';

/** What HTTP routes need: the process's services, passed down (no globals). */
export type HttpServices = Services;
