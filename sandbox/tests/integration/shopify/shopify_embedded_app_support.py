"""A tiny embedded app for the browser tests of the store admin and the App Bridge stand-in.

Every request is verified by Shopify's official package, as the green path says: the
document by its `id_token` parameter, fetches by `Authorization: Bearer`; failures get the
package's own response. Two bends for the sandbox, as a real app's development settings
make them: the package's helpers name App Bridge on cdn.shopify.com, swapped here for the
sandbox's stand-in, and its `frame-ancestors` names `https://{shop}` and
`https://admin.shopify.com`, which here is the sandbox admin's origin.
"""

from __future__ import annotations

from typing import Any

from litestar import Litestar, MediaType, Request, Response, get, post
from shopify_app import ShopifyApp
from shopify_app.types import RequestInput, Res

CDN_APP_BRIDGE = "https://cdn.shopify.com/shopifycloud/app-bridge.js"
PATCH_ID_TOKEN_PATH = "/auth/patch-id-token"

HOME = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="shopify-api-key" content="{client_id}">
<script src="{app_bridge}"></script>
<title>Embedded test app</title></head>
<body>
<h1 id="verified">verified {shop} as user {user}</h1>
<p id="loads">{loads}</p>
<p id="whoami">pending</p>
<p id="flaky">pending</p>
<button id="toast" onclick="shopify.toast.show('Saved')">Toast</button>
<button id="navigate" onclick="history.pushState({{}}, '', '/funnels/7?tab=offers')">Navigate</button>
<button id="open-top" onclick="window.open('{sandbox}/admin/store/{shop}/apps', '_top')">Apps</button>
<a id="leave" href="/leave">Leave by the package's parent redirect</a>
<a id="top-link" target="_top" href="{sandbox}/">Start page</a>
<a id="no-token" href="/?shop={shop}.myshopify.com&embedded=1">Reload without a token</a>
<script>
  function show(id, response) {{
    return response.text().then(function (text) {{
      document.getElementById(id).textContent = response.status + " " + text;
    }});
  }}
  fetch("/api/whoami", {{ method: "POST" }}).then(function (r) {{ return show("whoami", r); }});
  fetch("/api/flaky", {{ method: "POST" }}).then(function (r) {{ return show("flaky", r); }});
</script>
</body></html>"""


class EmbeddedTestApp:
    def __init__(self, *, client_id: str, client_secret: str, sandbox_url: str) -> None:
        self.shopify = ShopifyApp(client_id=client_id, client_secret=client_secret)
        self.client_id, self.sandbox_url = client_id, sandbox_url
        self.home_loads = 0
        self.flaky_calls = 0

    def _respond(self, res: Res) -> Response[str]:
        headers = {
            k: v for k, v in res.headers.items() if k.lower() not in ("content-security-policy", "link")
        }
        # Where the package would allow https://admin.shopify.com, the sandbox admin frames us.
        headers["Content-Security-Policy"] = f"frame-ancestors {self.sandbox_url};"
        body = res.body.replace(CDN_APP_BRIDGE, f"{self.sandbox_url}/cdn/app-bridge.js")
        return Response(body, status_code=res.status, headers=headers, media_type=MediaType.HTML)

    @staticmethod
    async def _as_package_request(request: Request[Any, Any, Any]) -> RequestInput:
        return {
            "method": request.method,
            "headers": dict(request.headers),
            "url": str(request.url),
            "body": (await request.body()).decode(),
        }

    def app(self) -> Litestar:
        @get(["/", "/funnels/{rest:path}"])
        async def home(request: Request[Any, Any, Any]) -> Response[str]:
            result = self.shopify.verify_app_home_req(
                await self._as_package_request(request), PATCH_ID_TOKEN_PATH
            )
            if not result.ok:
                return self._respond(result.response)
            self.home_loads += 1
            page = HOME.format(
                client_id=self.client_id,
                app_bridge=f"{self.sandbox_url}/cdn/app-bridge.js",
                shop=result.shop,
                user=result.user_id,
                loads=self.home_loads,
                sandbox=self.sandbox_url,
            )
            return self._respond(Res(status=200, body=page, headers=result.response.headers))

        @get(PATCH_ID_TOKEN_PATH)
        async def patch_id_token(request: Request[Any, Any, Any]) -> Response[str]:
            return self._respond(
                self.shopify.app_home_patch_id_token(await self._as_package_request(request)).response
            )

        @get("/leave")
        async def leave(request: Request[Any, Any, Any]) -> Response[str]:
            result = self.shopify.app_home_parent_redirect(
                await self._as_package_request(request),
                f"{self.sandbox_url}/admin/store/demo-store/apps",
                "demo-store",
            )
            return self._respond(result.response)

        @post("/api/whoami", status_code=200)
        async def whoami(request: Request[Any, Any, Any]) -> Response[str]:
            result = self.shopify.verify_app_home_req(
                await self._as_package_request(request), PATCH_ID_TOKEN_PATH
            )
            if not result.ok:
                return self._respond(result.response)
            return Response(f"shop={result.shop}", media_type=MediaType.TEXT)

        @post("/api/flaky", status_code=200)
        async def flaky(request: Request[Any, Any, Any]) -> Response[str]:
            # The first call is refused as a stale token is: the stand-in must retry once.
            self.flaky_calls += 1
            if self.flaky_calls == 1:
                return Response("", status_code=401, headers={"X-Shopify-Retry-Invalid-Session-Request": "1"})
            result = self.shopify.verify_app_home_req(
                await self._as_package_request(request), PATCH_ID_TOKEN_PATH
            )
            return Response(f"ok={result.ok} calls={self.flaky_calls}", media_type=MediaType.TEXT)

        return Litestar(route_handlers=[home, patch_id_token, leave, whoami, flaky], openapi_config=None)
