// The connect page's two scripts, served by the gateway itself: the page's own (the result page posts the
// outcome to the window that opened it, only to the allowed origins, or returns to the app), and the
// embeddable one a product loads to open connect pages in a popup. Neither is needed for the page to work.

/** The script of the connect page (its Content-Security-Policy allows only the gateway's own scripts). */
export const PAGE_SCRIPT_PATH = '/connect/assets/connect.js';

/** The embeddable script for "Connect" buttons on a product's own pages. */
export const EMBED_SCRIPT_PATH = '/connect/embed.js';

const PAGE_SCRIPT = `'use strict';
(function () {
  var data = document.getElementById('connect-result');
  if (!data) return;
  var result = JSON.parse(data.textContent);
  var opener = window.opener;
  if (opener && !opener.closed && result.allowedOrigins.length > 0) {
    // The browser delivers a message only to an opener of exactly the target origin: never '*'.
    var message = { type: 'integration.connected', integrationId: result.integrationId };
    result.allowedOrigins.forEach(function (origin) {
      opener.postMessage(message, origin);
    });
    return;
  }
  if (result.returnUrl) window.location.replace(result.returnUrl);
})();
`;

const EMBED_SCRIPT = `/*
 * Integrations gateway: connect buttons. Opens a connect session's page in a popup and reports the result.
 *
 *   IntegrationsGatewayConnect.open(connectUrlOrPromise, { onConnected(integrationId), onClosed(), onError(error) })
 *
 * Pass a promise (or a function returning one) for a connect URL your server is still creating: the popup
 * opens at once, inside the click, so that popup blockers let it through. Or mark a button:
 *   <button data-connect-session-endpoint="/api/connect-sessions?provider=github">Connect GitHub</button>
 * which POSTs to your endpoint (same origin, with cookies), expects {"connectUrl": "..."} and dispatches
 * "integration-connected" (detail: {integrationId}) on the button.
 */
(function (global) {
  'use strict';
  var WIDTH = 520;
  var HEIGHT = 720;

  function features() {
    var left = (global.screenX || 0) + Math.max(0, ((global.outerWidth || WIDTH) - WIDTH) / 2);
    var top = (global.screenY || 0) + Math.max(0, ((global.outerHeight || HEIGHT) - HEIGHT) / 2);
    return 'popup=yes,width=' + WIDTH + ',height=' + HEIGHT + ',left=' + Math.round(left) + ',top=' + Math.round(top);
  }

  function open(target, options) {
    options = options || {};
    var pending = typeof target === 'function' ? target() : target;
    var ready = typeof pending === 'string';
    var popup = global.open(ready ? pending : 'about:blank', 'integrations-gateway-connect', features());
    if (!popup) {
      if (options.onError) options.onError(new Error('The popup was blocked.'));
      return null;
    }
    var origin = null;
    var connected = false;
    function onMessage(event) {
      var data = event.data;
      if (event.origin !== origin || event.source !== popup) return;
      if (!data || data.type !== 'integration.connected' || typeof data.integrationId !== 'string') return;
      connected = true;
      stop();
      try { popup.close(); } catch (ignored) {}
      if (options.onConnected) options.onConnected(data.integrationId);
    }
    var timer = global.setInterval(function () {
      if (!popup.closed) return;
      stop();
      if (!connected && options.onClosed) options.onClosed();
    }, 400);
    function stop() {
      global.clearInterval(timer);
      global.removeEventListener('message', onMessage);
    }
    function go(url) {
      origin = new URL(url, global.location.href).origin;
      if (!ready) popup.location.href = url;
    }
    global.addEventListener('message', onMessage);
    if (ready) go(pending);
    else Promise.resolve(pending).then(go, function (error) {
      stop();
      try { popup.close(); } catch (ignored) {}
      if (options.onError) options.onError(error);
    });
    return popup;
  }

  function bind(root) {
    var buttons = (root || global.document).querySelectorAll('[data-connect-session-endpoint]');
    Array.prototype.forEach.call(buttons, function (button) {
      if (button.__integrationsGatewayConnect) return;
      button.__integrationsGatewayConnect = true;
      button.addEventListener('click', function (event) {
        event.preventDefault();
        var endpoint = button.getAttribute('data-connect-session-endpoint');
        open(function () {
          return global.fetch(endpoint, { method: 'POST', credentials: 'same-origin' })
            .then(function (response) {
              if (!response.ok) throw new Error('The connect session could not be created (HTTP ' + response.status + ').');
              return response.json();
            })
            .then(function (body) { return body.connectUrl; });
        }, {
          onConnected: function (integrationId) {
            button.dispatchEvent(new CustomEvent('integration-connected', { bubbles: true, detail: { integrationId: integrationId } }));
          },
          onError: function (error) {
            button.dispatchEvent(new CustomEvent('integration-connect-error', { bubbles: true, detail: { error: error } }));
          }
        });
      });
    });
  }

  global.IntegrationsGatewayConnect = { open: open, bind: bind };
  if (global.document.readyState === 'loading') global.document.addEventListener('DOMContentLoaded', function () { bind(); });
  else bind();
})(window);
`;

function script(body: string, crossOrigin: boolean): Response {
  return new Response(body, {
    headers: {
      'content-type': 'text/javascript; charset=utf-8',
      'cache-control': 'public, max-age=300',
      'x-content-type-options': 'nosniff',
      // The embeddable script is loaded by the product's pages, on their origin.
      'cross-origin-resource-policy': crossOrigin ? 'cross-origin' : 'same-origin',
    },
  });
}

export const pageScript = () => script(PAGE_SCRIPT, false);
export const embedScript = () => script(EMBED_SCRIPT, true);
