package basiqtest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"mime"
	"net/http"
	"path"
	"strings"

	"github.com/basiq-go/basiq"
)

// maxStatementBody bounds the body of a statement upload: the largest
// statement the SDK sends, and room for the multipart framing.
const maxStatementBody = basiq.MaxStatementBytes + 1<<20

// errStatementUnreadable is how verify-credentials ends for a statement
// whose content is not the PDF or CSV its name says.
var errStatementUnreadable = &stepError{code: "bank-statement-not-supported", title: "Statement not supported.",
	detail: "The file could not be read as a bank statement."}

// uploadStatement is POST /users/{u}/statements: multipart institutionId and
// statement (a .pdf or .csv file). The statement becomes a connection at the
// institution, with a job whose verify-credentials reads the file (a PDF
// must start with %PDF-, a CSV must be text) and whose other steps bring
// accounts and transactions, fixed by the file's content.
func (s *Server) uploadStatement(c *call) reply {
	u, r, found := s.lookupUser(c)
	if !found {
		return r
	}
	mt, _, _ := mime.ParseMediaType(c.r.Header.Get("Content-Type"))
	if mt != "multipart/form-data" {
		return fail(apiError{status: http.StatusUnsupportedMediaType, code: "unsupported-content-type",
			title: "Unsupported content type", detail: "Send the statement as multipart/form-data."})
	}
	if err := c.r.ParseMultipartForm(maxStatementBody); err != nil {
		return fail(errInvalidContent("The multipart body could not be read: " + err.Error()))
	}
	defer func() { _ = c.r.MultipartForm.RemoveAll() }()
	instID := strings.TrimSpace(c.r.FormValue("institutionId"))
	files := c.r.MultipartForm.File["statement"]
	var errs []apiError
	if instID == "" {
		errs = append(errs, errMissing("/institutionId", "institutionId is required."))
	}
	if len(files) == 0 {
		errs = append(errs, errMissing("/statement", "statement is required: a PDF or CSV file."))
	}
	if errs != nil {
		return fail(errs...)
	}
	in := s.instByID[instID]
	method := strings.TrimPrefix(strings.ToLower(path.Ext(files[0].Filename)), ".")
	switch {
	case in == nil:
		return fail(errInvalid("/institutionId", "Unknown institution: "+instID+"."))
	case method != "pdf" && method != "csv":
		return fail(errInvalid("/statement", "statement must be a .pdf or .csv file."))
	case !hasConnector(in, method):
		return fail(errInvalid("/institutionId", "Institution "+in.ID+" takes no "+method+" statements."))
	case files[0].Size == 0:
		return fail(errInvalid("/statement", "The statement file is empty."))
	}
	f, err := files[0].Open()
	if err != nil {
		return fail(errInvalidContent("The statement could not be read."))
	}
	content, err := io.ReadAll(f)
	_ = f.Close()
	if err != nil {
		return fail(errInvalidContent("The statement could not be read."))
	}
	sum := sha256.Sum256(content)
	cn := &connection{id: s.newID(), userID: u.id, instID: in.ID, status: connPending, created: c.now,
		loginID: "statement:" + hex.EncodeToString(sum[:8]), statement: true, statementMethod: method}
	if !statementReadable(method, content) {
		cn.statementErr = errStatementUnreadable
	}
	s.conns[cn.id] = cn
	u.conns = append(u.conns, cn.id)
	s.emit(c.now, "connection", "created", u.id, "/users/"+u.id+"/connections/"+cn.id)
	return answer(http.StatusAccepted, shortJob(c, s.startJob(c, cn)))
}

// statementReadable reports whether content reads as a statement of method.
func statementReadable(method string, content []byte) bool {
	if method == "pdf" {
		return bytes.HasPrefix(content, []byte("%PDF-"))
	}
	return !bytes.ContainsRune(content, 0) && bytes.ContainsRune(content, ',')
}
