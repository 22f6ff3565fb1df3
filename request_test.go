package basiq

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestTransportErrorTextIsMaskedAndBounded checks that a server breaking
// HTTP itself cannot put a secret, or text of any length, into an error
// string through the transport's own error: here a status line quoting the
// request's Authorization header (the API key, at /token), padded.
func TestTransportErrorTextIsMaskedAndBounded(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				req, err := http.ReadRequest(bufio.NewReader(conn))
				if err != nil {
					return
				}
				// "HTTP/1.1Basic <key>BBB...": net/http quotes it as the
				// malformed status code.
				fmt.Fprintf(conn, "HTTP/1.1%s%s\r\n\r\n", req.Header.Get("Authorization"), strings.Repeat("B", 5000))
			}()
		}
	}()
	c, err := NewClient(WithAPIKey(testKey), WithBaseURL("http://"+ln.Addr().String()), WithMaxRetries(0))
	require.NoError(t, err)
	_, err = c.Users.Get(t.Context(), "u1")
	require.Error(t, err)
	assertOnePrefix(t, err, "malformed status line")
	msg := err.Error()
	assert.NotContains(t, msg, testKey)
	assert.Contains(t, msg, redacted, "the text is kept, the key masked: %q", msg)
	assert.Contains(t, msg, "POST /token")
	assert.LessOrEqual(t, len(msg), 400, "bounded: %.100q...", msg)
}
