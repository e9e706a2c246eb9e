// The real Node.js OpenFeature client against a running feature-flags service.
//
// `@openfeature/server-sdk` with `@openfeature/ofrep-provider` (server-side:
// one `POST /ofrep/v1/evaluate/flags/{key}` per evaluation), unchanged. Every
// assertion is on what the SDK reports to an application: value, reason,
// variant and error code.
//
// Run by tests/openfeature/run, which starts the service, creates the flags
// in tests/openfeature/flags/ (two of them turned off by the kill switch) and
// the keys, and passes them in FF_OFREP_URL, FF_SERVER_KEY, FF_CLIENT_KEY and
// FF_REVOKED_KEY. Every test runs with a server key and with a client key
// (both of the production environment).

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { OFREPProvider } from '@openfeature/ofrep-provider';
import { ErrorCode, OpenFeature, StandardResolutionReasons as Reason } from '@openfeature/server-sdk';

const baseUrl = process.env.FF_OFREP_URL;
assert.ok(baseUrl, 'FF_OFREP_URL is set (run tests/openfeature/run)');

// One OpenFeature domain per way of calling: the server key sends
// `Authorization: Bearer`, the client key `X-API-Key` (both are accepted).
const domains = {
  'server-key': { Authorization: `Bearer ${process.env.FF_SERVER_KEY}` },
  'client-key': { 'X-API-Key': process.env.FF_CLIENT_KEY },
  'invalid-key': { 'X-API-Key': 'ff_server_this_key_was_never_issued_000000000' },
  'revoked-key': { 'X-API-Key': process.env.FF_REVOKED_KEY },
};

before(async () => {
  for (const [domain, headers] of Object.entries(domains)) {
    await OpenFeature.setProviderAndWait(domain, new OFREPProvider({ baseUrl, headers }));
  }
});

after(async () => {
  await OpenFeature.close();
});

/** A successful evaluation as the application sees it. */
function assertSuccess(details, value, reason, variant) {
  assert.equal(details.errorCode, undefined, details.errorMessage);
  assert.deepEqual(details.value, value);
  assert.equal(details.reason, reason);
  assert.equal(details.variant, variant);
}

/** A failed evaluation: the default value, reason ERROR and the code. */
function assertError(details, defaultValue, errorCode) {
  assert.deepEqual(details.value, defaultValue);
  assert.equal(details.reason, Reason.ERROR);
  assert.equal(details.errorCode, errorCode);
}

for (const domain of ['server-key', 'client-key']) {
  describe(`with a ${domain}`, () => {
    const client = () => OpenFeature.getClient(domain);

    // --- the five flag types ---------------------------------------------

    test('boolean', async () => {
      const details = await client().getBooleanDetails('new_payment_flow', false);
      assertSuccess(details, true, Reason.STATIC, 'default');
    });

    test('string', async () => {
      const details = await client().getStringDetails('checkout_button_color', 'red');
      assertSuccess(details, 'green', Reason.STATIC, 'default');
    });

    test('integer', async () => {
      const details = await client().getNumberDetails('cart_max_items', 1);
      assertSuccess(details, 25, Reason.STATIC, 'default');
    });

    test('float with a fraction', async () => {
      const details = await client().getNumberDetails('pricing_discount_rate', 0);
      assertSuccess(details, 10.5, Reason.STATIC, 'default');
    });

    test('float written as 10.0', async () => {
      // JavaScript has one number type: 10.0 arrives as 10.
      const details = await client().getNumberDetails('shipping_base_fee', 0);
      assertSuccess(details, 10, Reason.STATIC, 'default');
    });

    test('object', async () => {
      const details = await client().getObjectDetails('ui_theme_config', { theme: 'none' });
      assertSuccess(
        details,
        { theme: 'dark', density: 'compact', sidebar: ['home', 'orders'], font_scale: 1.25 },
        Reason.STATIC,
        'default',
      );
    });

    // --- targeting -------------------------------------------------------

    test('targeting on context attributes', async () => {
      const beta = { targetingKey: 'user-1', user_type: 'beta', country: 'CA' };
      let details = await client().getBooleanDetails('beta_features', false, beta);
      assertSuccess(details, true, Reason.TARGETING_MATCH, 'beta_users');
      assert.equal(details.flagMetadata.ruleName, 'beta_users');

      const elsewhere = { targetingKey: 'user-1', user_type: 'beta', country: 'FR' };
      details = await client().getBooleanDetails('beta_features', true, elsewhere);
      assertSuccess(details, false, Reason.DEFAULT, 'default');
    });

    test('targeting on the targeting key', async () => {
      let details = await client().getStringDetails('checkout_experience', 'none', { targetingKey: 'user-42' });
      assertSuccess(details, 'express', Reason.TARGETING_MATCH, 'express');

      details = await client().getStringDetails('checkout_experience', 'none', { targetingKey: 'user-7' });
      assertSuccess(details, 'classic', Reason.DEFAULT, 'default');
    });

    test('a split names the variant served', async () => {
      const values = { control: 'bm25', treatment: 'learned' };
      const served = new Set();
      for (let user = 0; user < 40; user++) {
        const context = { targetingKey: `user-${user}` };
        const details = await client().getStringDetails('search_ranking', 'none', context);
        assert.equal(details.errorCode, undefined, details.errorMessage);
        assert.equal(details.reason, Reason.SPLIT);
        assert.equal(details.value, values[details.variant]);
        // Sticky: the same user gets the same variant again.
        const again = await client().getStringDetails('search_ranking', 'none', context);
        assert.equal(again.variant, details.variant);
        served.add(details.variant);
      }
      assert.deepEqual([...served].sort(), ['control', 'treatment']);
    });

    // --- errors and the kill switch --------------------------------------

    test('a missing flag gives the default', async () => {
      const details = await client().getBooleanDetails('no_such_flag', true);
      assertError(details, true, ErrorCode.FLAG_NOT_FOUND);
    });

    test('kill switch (boolean)', async () => {
      // On in production, then turned off by POST /api/v1/emergency/disable.
      const details = await client().getBooleanDetails('legacy_checkout', true);
      assertSuccess(details, false, Reason.DISABLED, 'disabled');
    });

    test('kill switch (string) serves the default value', async () => {
      const details = await client().getStringDetails('checkout_banner', 'fallback');
      assertSuccess(details, 'none', Reason.DISABLED, 'disabled');
    });

    test('a wrong type is a type mismatch', async () => {
      const details = await client().getStringDetails('new_payment_flow', 'not a boolean');
      assertError(details, 'not a boolean', ErrorCode.TYPE_MISMATCH);
    });
  });
}

for (const [domain, name] of [['invalid-key', 'an invalid key'], ['revoked-key', 'a revoked key']]) {
  test(`${name} gives the default with an error (GENERAL)`, async () => {
    const details = await OpenFeature.getClient(domain).getBooleanDetails('new_payment_flow', false);
    assertError(details, false, ErrorCode.GENERAL);
  });
}
