/** The signed-in patient's own ids, from /portal/me. */
import { me } from '../api/portal.ts';
import type { PortalMe } from '../api/types.ts';
import { useAsync, type AsyncState } from '../components/use-async.ts';

export function useMe(): AsyncState<PortalMe> {
  return useAsync(me, []);
}
