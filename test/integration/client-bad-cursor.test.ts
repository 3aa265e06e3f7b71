import { afterEach, describe, expect, it } from 'vitest';
import { Resources, VARIANTS, fastOptions } from '../support/client-harness.js';
import { waitFor } from '../support/wait.js';

/**
 * A position the hub refuses (`BAD_CURSOR`: one saved by an app from something else, or one a
 * buggy hub handed out) ends an HTTP link with 400. Sent again on every reconnect, it would be
 * refused forever and the client would never receive again: the chaos soak saw exactly that.
 * The client drops the refused positions, reports a `gap` for each channel (what came between
 * is unknown), and goes on from now.
 */
const HTTP_VARIANTS = VARIANTS.filter(({ transport }) => transport !== 'websocket');

describe.each(HTTP_VARIANTS)('a client over $name given a position the hub refuses', (variant) => {
  const resources = new Resources();
  afterEach(() => resources.closeAll());

  it('reports a gap, starts from now, and receives what follows', async () => {
    const testHub = await resources.hub();
    const client = resources.client(testHub.url, fastOptions(variant.transport, variant.options));
    const gaps: string[] = [];
    const errors: string[] = [];
    client.on('gap', ({ channel }) => gaps.push(channel));
    client.on('error', (error) => errors.push((error as { code?: string }).code ?? error.name));
    const received: unknown[] = [];
    const subscription = client.subscribe('c', (data) => received.push(data), {
      since: 'not a position',
    });
    await subscription.ready;
    expect(gaps).toEqual(['c']);
    expect(errors).toContain('BAD_CURSOR');

    await testHub.hub.publish('c', 'after');
    await waitFor(() => received.length === 1, 5000, 'the envelope published after');
    expect(received).toEqual(['after']);
    expect(subscription.position).toMatch(/^[0-9a-z]+-1$/);
  });
});
