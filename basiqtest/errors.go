package basiqtest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
)

// apiError is one error object of Basiq's error body, with its status.
type apiError struct {
	status              int
	code, title, detail string
	pointer, parameter  string
}

// errorBody is Basiq's error answer.
type errorBody struct {
	Type          string          `json:"type"`
	CorrelationID string          `json:"correlationId"`
	Data          []errorItemJSON `json:"data"`
}

type errorItemJSON struct {
	Type   string            `json:"type"`
	Code   string            `json:"code"`
	Title  string            `json:"title"`
	Detail string            `json:"detail"`
	Source map[string]string `json:"source"`
}

// writeErrors answers with Basiq's error body; the status is the first
// error's.
func (s *Server) writeErrors(w http.ResponseWriter, errs []apiError) {
	b := errorBody{Type: "list", CorrelationID: correlationID(), Data: make([]errorItemJSON, 0, len(errs))}
	for _, e := range errs {
		src := map[string]string{}
		if e.pointer != "" {
			src["pointer"] = e.pointer
		}
		if e.parameter != "" {
			src["parameter"] = e.parameter
		}
		b.Data = append(b.Data, errorItemJSON{Type: "error", Code: e.code, Title: e.title, Detail: e.detail, Source: src})
	}
	raw, _ := json.Marshal(b)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(errs[0].status)
	_, _ = w.Write(raw)
}

// correlationID returns a fresh id in the form of a UUID.
func correlationID() string {
	h := randomHex(16)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

func errNotFound(detail string) apiError {
	return apiError{status: http.StatusNotFound, code: "resource-not-found",
		title: "Requested resource is not found.", detail: detail}
}

func errForbidden(detail string) apiError {
	return apiError{status: http.StatusForbidden, code: "forbidden-access", title: "Forbidden access", detail: detail}
}

func errInvalidContent(detail string) apiError {
	return apiError{status: http.StatusBadRequest, code: "invalid-content", title: "Content of the request is invalid", detail: detail}
}

// errMissing is 400 parameter-not-supplied for a body field.
func errMissing(pointer, detail string) apiError {
	return apiError{status: http.StatusBadRequest, code: "parameter-not-supplied",
		title: "Required parameter not supplied", detail: detail, pointer: pointer}
}

// errInvalid is 400 parameter-not-valid for a body field.
func errInvalid(pointer, detail string) apiError {
	return apiError{status: http.StatusBadRequest, code: "parameter-not-valid",
		title: "Parameter value is not valid", detail: detail, pointer: pointer}
}

// errInvalidParam is 400 parameter-not-valid for a query parameter.
func errInvalidParam(parameter, detail string) apiError {
	return apiError{status: http.StatusBadRequest, code: "parameter-not-valid",
		title: "Parameter value is not valid", detail: detail, parameter: parameter}
}

// decodeJSON decodes a JSON object body into v; an empty body is an empty
// object. A Content-Type other than JSON is refused with 415.
func decodeJSON(r *http.Request, v any) *apiError {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, _ := strings.Cut(ct, ";")
		if mt = strings.TrimSpace(strings.ToLower(mt)); mt != "application/json" && !strings.HasSuffix(mt, "+json") {
			return &apiError{status: http.StatusUnsupportedMediaType, code: "unsupported-content-type",
				title: "Unsupported content type", detail: "Send the body as application/json."}
		}
	}
	b, _ := io.ReadAll(r.Body)
	if len(bytes.TrimSpace(b)) == 0 {
		b = []byte("{}")
	}
	if err := json.Unmarshal(b, v); err != nil {
		e := errInvalidContent("The request body is not a valid JSON object: " + err.Error())
		return &e
	}
	return nil
}
