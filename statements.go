package basiq

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"path"
	"strings"
	"sync"
)

// StatementsService uploads bank statements: a PDF statement or a CSV file
// in place of a connection (both API versions).
type StatementsService service

// MaxStatementBytes is the largest statement [StatementsService.Upload]
// sends. Basiq's reference and published API files document no size limit
// for POST /users/{userId}/statements (only the errors row-count-exceeded
// and "Request too long"); this bound is the library's own, the same as the
// largest answer it reads, so that a stream that never ends cannot keep an
// upload going.
const MaxStatementBytes = 32 << 20

// errStreamRepeated ends an attempt to send a streamed body a second time.
var errStreamRepeated = errors.New("basiq: a streamed upload cannot be sent twice")

// Upload sends a bank statement for a user: POST /users/{userId}/statements,
// multipart with institutionId and the file as statement (content type
// application/pdf for a .pdf name, text/csv for .csv). It answers the job
// that reads the statement; pass it to [Client.WaitForJob]. Basiq's sandbox
// institution (AU00000) takes no uploads.
//
// The file is streamed from r as the request is written, never read whole
// into memory, and the upload is never repeated (a repeat would upload the
// statement twice): not on a network error or a 429/5xx answer, nor after a
// refused access token (the next call gets a fresh one). Ids, a blank or
// control-character filename, a nil reader and an empty file are refused
// with an error matching [ErrValidation] before anything is sent; so is a
// file longer than [MaxStatementBytes] when r tells its length (Len, as
// *bytes.Reader and *strings.Reader do, or an *os.File). Otherwise a file
// found too long while streaming ends the request before its end, so the
// API cannot take it, and Upload returns an error matching ErrValidation. A
// slow upload is bounded by the client's time limit per attempt like any
// request.
func (s *StatementsService) Upload(ctx context.Context, userID, institutionID, filename string, r io.Reader) (*Job, error) {
	errs := []error{checkIDs("userId", userID, "institutionId", institutionID)}
	switch {
	case strings.TrimSpace(filename) == "":
		errs = append(errs, &ValidationError{Field: "filename", Reason: "is required: give the statement file's name, such as statement.pdf"})
	case strings.ContainsFunc(filename, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		errs = append(errs, &ValidationError{Field: "filename", Reason: "contains control characters: give a plain file name, such as statement.pdf"})
	}
	if r == nil {
		errs = append(errs, &ValidationError{Field: "statement", Reason: "is required: give a reader of the statement file"})
	} else if n, ok := remaining(r); ok {
		errs = append(errs, checkStatementSize(n))
	}
	if err := joinValidation(errs); err != nil {
		return nil, err
	}
	// The upload is one attempt: bound it by the client's time limit per
	// attempt here, so that the limit also ends a wait on r.
	if c := s.client; c.attemptTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.attemptTimeout)
		defer cancel()
	}
	// r is read on a goroutine, so that a reader that stalls cannot hold
	// the call past its context: a Read blocked in r is left to return on
	// its own.
	br := bufio.NewReader(r)
	peeked := make(chan error, 1)
	go func() {
		_, err := br.Peek(1)
		peeked <- err
	}()
	select {
	case err := <-peeked:
		if errors.Is(err, io.EOF) {
			return nil, checkStatementSize(0)
		} else if err != nil {
			return nil, errorf("reading the statement: %w", err)
		}
	case <-ctx.Done():
		return nil, errorf("reading the statement: %w", ctx.Err())
	}

	boundary := multipart.NewWriter(io.Discard).Boundary()
	body := &onceStream{open: func() io.ReadCloser {
		pr, pw := io.Pipe()
		go func() { pw.CloseWithError(writeStatement(pw, boundary, institutionID, filename, br)) }()
		return pr
	}}
	defer body.close() // ends the writer if the transport stopped reading
	// The transport waits for the body it is sending: when the context
	// ends, close the stream, so that a stalled reader does not hold the
	// call.
	stop := context.AfterFunc(ctx, body.close)
	defer stop()
	contentType := "multipart/form-data; boundary=" + boundary
	job := new(Job)
	_, err := s.client.call(ctx, http.MethodPost, pathf("users/%s/statements", userID), nil, job,
		withStream(contentType, body.attempt))
	if body.tooLong() {
		return nil, checkStatementSize(MaxStatementBytes + 1)
	}
	if err != nil {
		return nil, err
	}
	return job, nil
}

// checkStatementSize refuses an empty statement and one over
// MaxStatementBytes.
func checkStatementSize(n int64) error {
	switch {
	case n <= 0:
		return &ValidationError{Field: "statement", Reason: "is empty: give a statement file with content"}
	case n > MaxStatementBytes:
		return &ValidationError{Field: "statement", Reason: fmt.Sprintf("is larger than %d bytes, the most the API takes: give a smaller file", MaxStatementBytes)}
	}
	return nil
}

// remaining reports how many bytes r has left, when it can tell.
func remaining(r io.Reader) (int64, bool) {
	switch v := r.(type) {
	case interface{ Len() int }:
		return int64(v.Len()), true
	case interface {
		Stat() (fs.FileInfo, error)
		io.Seeker
	}:
		fi, err := v.Stat()
		if err != nil || !fi.Mode().IsRegular() {
			return 0, false
		}
		pos, err := v.Seek(0, io.SeekCurrent)
		if err != nil {
			return 0, false
		}
		return fi.Size() - pos, true
	}
	return 0, false
}

// errTooLong marks a statement found too long while streaming.
var errTooLong = checkStatementSize(MaxStatementBytes + 1)

// writeStatement writes the multipart body: institutionId, then the file
// as statement, at most MaxStatementBytes of it.
func writeStatement(w io.Writer, boundary, institutionID, filename string, file io.Reader) error {
	mw := multipart.NewWriter(w)
	if err := mw.SetBoundary(boundary); err != nil {
		return err
	}
	if err := mw.WriteField("institutionId", institutionID); err != nil {
		return err
	}
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="statement"; filename="%s"`, quoteEscaper.Replace(filename)))
	h.Set("Content-Type", statementType(filename))
	part, err := mw.CreatePart(h)
	if err != nil {
		return err
	}
	n, err := io.Copy(part, io.LimitReader(file, MaxStatementBytes+1))
	if err != nil {
		return err
	}
	if n > MaxStatementBytes {
		return errTooLong
	}
	return mw.Close()
}

var quoteEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`)

// statementType is a statement's content type, from its name.
func statementType(filename string) string {
	switch strings.ToLower(path.Ext(strings.ReplaceAll(filename, `\`, "/"))) {
	case ".pdf":
		return "application/pdf"
	case ".csv":
		return "text/csv"
	}
	return "application/octet-stream"
}

// onceStream is a request body that can be sent once: the first attempt
// that reads it starts open, any later attempt fails with
// errStreamRepeated. Attempts that are never read (go-retryablehttp probes
// the body for a length) cost nothing.
type onceStream struct {
	open func() io.ReadCloser

	mu      sync.Mutex
	started bool
	rc      io.ReadCloser
	err     error // what ended the stream early, if it was the file's length
}

// attempt returns the body of one attempt.
func (s *onceStream) attempt() (io.Reader, error) { return &streamAttempt{s: s}, nil }

// close ends the stream, so that its writer stops.
func (s *onceStream) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rc != nil {
		s.rc.Close()
	}
}

// tooLong reports whether the file was found too long while streaming.
func (s *onceStream) tooLong() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err != nil
}

// streamAttempt is one attempt's view of a onceStream.
type streamAttempt struct {
	s   *onceStream
	mu  sync.Mutex
	rc  io.ReadCloser
	err error
}

func (a *streamAttempt) Read(p []byte) (int, error) {
	a.mu.Lock()
	if a.rc == nil && a.err == nil {
		a.s.mu.Lock()
		if a.s.started {
			a.err = errStreamRepeated
		} else {
			a.s.started, a.rc = true, a.s.open()
			a.s.rc = a.rc
		}
		a.s.mu.Unlock()
	}
	rc, err := a.rc, a.err
	a.mu.Unlock()
	if err != nil {
		return 0, err
	}
	n, err := rc.Read(p)
	if errors.Is(err, errTooLong) {
		a.s.mu.Lock()
		a.s.err = errTooLong
		a.s.mu.Unlock()
	}
	return n, err
}

func (a *streamAttempt) Close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.rc != nil {
		return a.rc.Close()
	}
	return nil
}
