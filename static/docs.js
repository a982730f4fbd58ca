// Starts Swagger UI on /docs, with FastAPI's own choices, and dresses it as the system asks:
// Swagger UI's stylesheet has a dark theme under html.dark-mode but never picks it itself.
(function () {
  "use strict";
  const dark = window.matchMedia("(prefers-color-scheme: dark)");
  function followTheSystem() {
    document.documentElement.classList.toggle("dark-mode", dark.matches);
  }
  followTheSystem();
  dark.addEventListener("change", followTheSystem);

  const root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.dataset.openapiUrl,
    dom_id: "#swagger-ui",
    layout: "BaseLayout",
    deepLinking: true,
    showExtensions: true,
    showCommonExtensions: true,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
  });
})();
