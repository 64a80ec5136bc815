#!/usr/bin/env bash
# update-openapi.sh regenerates apiserver-lite/openapi/zz_generated.openapi.go, the OpenAPI
# definitions of the built-in types apiserver-lite serves, with the openapi-gen version pinned
# as a Go tool in go.mod (`go tool openapi-gen`). Running it twice gives the same file.
#
# Known "API rule violation" lines from k8s.io/api go to a report file (default under /tmp,
# override with OPENAPI_REPORT); nothing is written outside apiserver-lite/openapi.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${ROOT}"

MODULE="$(go list -m)"
OUT_DIR="apiserver-lite/openapi"
OUT_FILE="zz_generated.openapi.go"
REPORT="${OPENAPI_REPORT:-${TMPDIR:-/tmp}/svclab-openapi-violations.report}"

# Packages whose types are served (or referenced by served types). Leaving one out makes the
# generator or the spec builders fail with "cannot find model definition for ...".
PACKAGES=(
  k8s.io/api/core/v1
  k8s.io/api/apps/v1
  k8s.io/api/discovery/v1
  k8s.io/api/events/v1
  k8s.io/api/networking/v1
  k8s.io/api/authentication/v1
  k8s.io/api/authorization/v1
  k8s.io/api/autoscaling/v1
  k8s.io/api/coordination/v1
  k8s.io/api/node/v1
  k8s.io/apimachinery/pkg/apis/meta/v1
  k8s.io/apimachinery/pkg/runtime
  k8s.io/apimachinery/pkg/util/intstr
  k8s.io/apimachinery/pkg/api/resource
  k8s.io/apimachinery/pkg/version
)

go tool openapi-gen \
  --go-header-file "${ROOT}/hack/boilerplate.go.txt" \
  --output-dir "${ROOT}/${OUT_DIR}" \
  --output-pkg "${MODULE}/${OUT_DIR}" \
  --output-file "${OUT_FILE}" \
  --report-filename "${REPORT}" \
  "${PACKAGES[@]}"

gofmt -w "${OUT_DIR}/${OUT_FILE}"

defs="$(grep -c '{}\.OpenAPIModelName():' "${OUT_DIR}/${OUT_FILE}" || true)"
echo "wrote ${OUT_DIR}/${OUT_FILE} (${defs} definitions); API rule violations: ${REPORT} ($(wc -l <"${REPORT}") lines)"
