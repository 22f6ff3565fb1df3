package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/basiq-go/basiq"
	"github.com/basiq-go/basiq/basiqtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// connectInBubble runs the flow with the flags in args against an
// in-process basiqtest server with the default (realistic) step durations,
// in a synctest bubble: seconds of steps in no real time. It returns the
// output, the error and how long the flow took on the bubble's clock.
func connectInBubble(t *testing.T, args []string, stdin string) (string, error, time.Duration) {
	t.Helper()
	var out bytes.Buffer
	var err error
	var took time.Duration
	synctest.Test(t, func(t *testing.T) {
		cfg, perr := parseFlags(args, &bytes.Buffer{}, &bytes.Buffer{})
		require.NoError(t, perr)
		srvOpts, clientOpts := sandbox(cfg.fast)
		srv := basiqtest.NewUnstartedServer(srvOpts...)
		defer srv.Close()
		client := srv.Client(clientOpts...)
		start := time.Now()
		err = connect(t.Context(), client, srv.AddUser("a@hooli.example"), cfg, strings.NewReader(stdin), &out)
		took = time.Since(start)
	})
	return out.String(), err, took
}

func TestConnectFlows(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		args    []string
		stdin   string
		wantErr string
		want    []string
	}{
		{name: "hooli", want: []string{"verify-credentials", "retrieve-transactions", "success", "accounts:", "transactions,"}},
		{name: "locked account", args: []string{"-login", "bighead", "-password", "password"}, wantErr: "invalid-credentials"},
		{name: "mfa from flag", args: []string{"-institution", basiqtest.InstMFA, "-mfa-code", "1234"}, want: []string{"the bank asks", "mfa-challenge", "accounts:"}},
		{name: "mfa from stdin", args: []string{"-institution", basiqtest.InstMFA}, stdin: "1234\n", want: []string{"code: ", "accounts:"}},
		{name: "mfa with no answer", args: []string{"-institution", basiqtest.InstMFA}, wantErr: "no MFA answer"},
		{name: "token bank", args: []string{"-institution", basiqtest.InstToken, "-user-token", "token:PTln18RhwL"}, want: []string{"accounts:"}},
		{name: "token bank without token", args: []string{"-institution", basiqtest.InstToken, "-login", "", "-password", ""}, wantErr: "userToken"},
		{name: "security code bank", args: []string{"-institution", basiqtest.InstSecurityCode, "-security-code", "1234"}, want: []string{"accounts:"}},
		{name: "security code bank without code", args: []string{"-institution", basiqtest.InstSecurityCode}, wantErr: "securityCode"},
		{name: "secondary login bank", args: []string{"-institution", basiqtest.InstSecondaryLogin, "-secondary-login", "12345678"}, want: []string{"accounts:"}},
		{name: "secondary login bank without it", args: []string{"-institution", basiqtest.InstSecondaryLogin}, wantErr: "secondaryLoginId"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			out, err, _ := connectInBubble(t, tc.args, tc.stdin)
			if tc.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.wantErr)
				assert.Equal(t, 1, exitCode(err, &bytes.Buffer{}))
				return
			}
			require.NoError(t, err, out)
			for _, w := range tc.want {
				assert.Contains(t, out, w)
			}
			assert.NotContains(t, out, "hooli2016", "the password is never printed")
		})
	}
}

// The README's command, end to end against a loopback basiqtest server;
// -fast keeps it short.
func TestRunAgainstInMemoryServer(t *testing.T) {
	t.Parallel()
	var out, errOut bytes.Buffer
	require.NoError(t, run(context.Background(), []string{"-fast"}, strings.NewReader(""), &out, &errOut, ""), out.String())
	for _, w := range []string{"No BASIQ_API_KEY set", "created user", "retrieve-transactions", "ready after", "accounts:", "transactions,"} {
		assert.Contains(t, out.String(), w)
	}
	assert.NotContains(t, out.String(), "hooli2016", "the password is never printed")
	assert.NotContains(t, out.String(), "deleted user", "users of the in-memory server are not deleted")
	assert.Empty(t, errOut.String())
}

func TestHelpExitsZeroWithTheUsageOnStdout(t *testing.T) {
	t.Parallel()
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"-h"}, strings.NewReader(""), &out, &errOut, "")
	require.ErrorIs(t, err, flag.ErrHelp)
	assert.Equal(t, 0, exitCode(err, &errOut))
	for _, f := range []string{"Usage:", "-institution", "-login", "-password", "-user-token", "-mfa-code", "-security-code", "-secondary-login", "-keep", "-fast"} {
		assert.Contains(t, out.String(), f)
	}
	assert.Empty(t, errOut.String())
}

func TestBadFlagsAndExtraArgumentsExitTwoWithTheUsage(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"extra"}, {"-fast", "AU00000"}, {"-bogus"}, {"-timeout", "soon"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			var out, errOut bytes.Buffer
			err := run(context.Background(), args, strings.NewReader(""), &out, &errOut, "")
			require.Error(t, err)
			assert.Equal(t, 2, exitCode(err, &errOut))
			assert.Contains(t, errOut.String(), "Usage:")
			assert.Empty(t, out.String(), "nothing ran")
		})
	}
}

func TestMFAPromptIsOnItsOwnLine(t *testing.T) {
	t.Parallel()
	out, err, _ := connectInBubble(t, []string{"-institution", basiqtest.InstMFA}, "1234\n")
	require.NoError(t, err, out)
	lines := strings.Split(out, "\n")
	prompts := 0
	for i, l := range lines {
		if strings.Contains(l, "code: ") {
			prompts++
			// The input does not echo here: the prompt line holds the
			// prompt alone, and the next output starts a new line.
			assert.Equal(t, "code: ", l)
			assert.True(t, strings.HasPrefix(lines[i-1], "the bank asks: "), lines[i-1])
		}
	}
	assert.Equal(t, 1, prompts)
}

func TestPendingTransactionsPrintWithoutAZeroDate(t *testing.T) {
	t.Parallel()
	out, err, _ := connectInBubble(t, nil, "")
	require.NoError(t, err, out)
	assert.Contains(t, out, "  pending ")
	assert.Regexp(t, `\n  \d{4}-\d{2}-\d{2} `, out, "posted transactions show their date")
	assert.NotContains(t, out, "0001-01-01")
}

// In live mode (an API key given) the user the run created is deleted at
// the end, unless -keep is given. basiqtest stands in for the live API.
func TestLiveModeDeletesTheUserItCreatedUnlessKept(t *testing.T) {
	t.Parallel()
	for _, keep := range []bool{false, true} {
		t.Run(map[bool]string{false: "deleted", true: "kept"}[keep], func(t *testing.T) {
			t.Parallel()
			srv := basiqtest.NewServer(basiqtest.WithStepDuration(0))
			t.Cleanup(srv.Close)
			args := []string{"-base-url", srv.URL}
			if keep {
				args = append(args, "-keep")
			}
			var out, errOut bytes.Buffer
			require.NoError(t, run(context.Background(), args, strings.NewReader(""), &out, &errOut, srv.APIKey), out.String())
			_, id, ok := strings.Cut(out.String(), "created user ")
			require.True(t, ok, out.String())
			id, _, _ = strings.Cut(id, "\n")

			_, err := srv.Client().Users.Get(context.Background(), id)
			if keep {
				require.NoError(t, err)
				assert.NotContains(t, out.String(), "deleted user")
				return
			}
			require.ErrorIs(t, err, basiq.ErrNotFound)
			assert.Contains(t, out.String(), "deleted user "+id)
		})
	}
}

func TestLiveModeDeletesTheUserEvenWhenTheConnectionFails(t *testing.T) {
	t.Parallel()
	srv := basiqtest.NewServer(basiqtest.WithStepDuration(0))
	t.Cleanup(srv.Close)
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"-base-url", srv.URL, "-institution", basiqtest.InstToken}, strings.NewReader(""), &out, &errOut, srv.APIKey)
	require.Error(t, err)
	var ve *basiq.ValidationError
	require.True(t, errors.As(err, &ve), "the connection's error is kept: %v", err)
	assert.Contains(t, out.String(), "deleted user ")
}

// Without -fast the in-memory server's steps take seconds, as the live
// API's do, and the client waits with its default schedule; with it, the
// run is short. Measured on a synctest bubble's clock.
func TestDefaultRunTakesSecondsPerStep(t *testing.T) {
	t.Parallel()
	cases := []struct {
		args     []string
		min, max time.Duration
	}{
		{args: nil, min: 9 * time.Second, max: 20 * time.Second},
		{args: []string{"-fast"}, min: 1200 * time.Millisecond, max: 3 * time.Second},
	}
	for _, tc := range cases {
		t.Run(strings.Join(append([]string{"args"}, tc.args...), " "), func(t *testing.T) {
			out, err, took := connectInBubble(t, tc.args, "")
			require.NoError(t, err, out)
			assert.GreaterOrEqual(t, took, tc.min, out)
			assert.LessOrEqual(t, took, tc.max, out)
		})
	}
}

// mainArgsEnv, set, makes the test binary run main with these arguments
// (separated by newlines) instead of the tests: the exit status is main's.
const mainArgsEnv = "CONNECT_MAIN_ARGS"

func TestMain(m *testing.M) {
	if args, ok := os.LookupEnv(mainArgsEnv); ok {
		os.Args = append([]string{"connect"}, strings.FieldsFunc(args, func(r rune) bool { return r == '\n' })...)
		main()
		return
	}
	os.Exit(m.Run())
}

// The command itself, as `go run ./examples/connect ...` runs it: -h exits
// 0 with the usage on stdout, a stray argument or a bad flag exits 2 with
// the problem on stderr, a -fast run against basiqtest exits 0.
func TestCommandExitStatus(t *testing.T) {
	t.Parallel()
	cases := []struct {
		args     []string
		status   int
		stdout   string
		stderr   string
		noStderr bool
	}{
		{args: []string{"-h"}, status: 0, stdout: "Usage:", noStderr: true},
		{args: []string{"--help"}, status: 0, stdout: "-secondary-login", noStderr: true},
		{args: []string{"extra"}, status: 2, stderr: `unexpected argument "extra"`},
		{args: []string{"-fast", "AU00000"}, status: 2, stderr: `unexpected argument "AU00000"`},
		{args: []string{"-bogus"}, status: 2, stderr: "flag provided but not defined"},
		{args: []string{"-fast"}, status: 0, stdout: "transactions,", noStderr: true},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			t.Parallel()
			cmd := exec.CommandContext(t.Context(), os.Args[0])
			cmd.Env = append(os.Environ(), mainArgsEnv+"="+strings.Join(tc.args, "\n"), "BASIQ_API_KEY=")
			var out, errOut bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &errOut
			err := cmd.Run()
			status := 0
			var exitErr *exec.ExitError
			if errors.As(err, &exitErr) {
				status = exitErr.ExitCode()
			} else {
				require.NoError(t, err)
			}
			assert.Equal(t, tc.status, status, "stdout: %s\nstderr: %s", out.String(), errOut.String())
			assert.Contains(t, out.String(), tc.stdout)
			assert.Contains(t, errOut.String(), tc.stderr)
			if tc.noStderr {
				assert.Empty(t, errOut.String())
			}
		})
	}
}

// In live mode the user the run created is deleted at the end unless -keep
// is given, and that holds when a person stops the run with Ctrl-C at the
// MFA prompt, the natural place to give up.
func TestLiveModeDeletesTheUserOnInterrupt(t *testing.T) {
	t.Parallel()
	srv := basiqtest.NewServer(basiqtest.WithStepDuration(10 * time.Millisecond))
	t.Cleanup(srv.Close)

	cmd := exec.CommandContext(t.Context(), os.Args[0])
	cmd.Env = append(os.Environ(),
		mainArgsEnv+"="+strings.Join([]string{"-base-url", srv.URL, "-institution", basiqtest.InstMFA}, "\n"),
		"BASIQ_API_KEY="+srv.APIKey)
	stdin, err := cmd.StdinPipe() // never written: the person at the prompt presses Ctrl-C
	require.NoError(t, err)
	defer stdin.Close()
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())

	// Wait for the prompt, noting the user created.
	var userID string
	lines := make(chan string)
	go func() {
		defer close(lines)
		r := bufio.NewReader(stdout)
		for {
			s, err := r.ReadString(' ')
			if s != "" {
				lines <- s
			}
			if err != nil {
				return
			}
		}
	}()
	var seen strings.Builder
	deadline := time.After(20 * time.Second)
	for !strings.Contains(seen.String(), "code: ") {
		select {
		case s, ok := <-lines:
			require.True(t, ok, "the run ended before the MFA prompt: %s", seen.String())
			seen.WriteString(s)
		case <-deadline:
			t.Fatalf("no MFA prompt: %s", seen.String())
		}
	}
	_, rest, ok := strings.Cut(seen.String(), "created user ")
	require.True(t, ok, seen.String())
	userID, _, _ = strings.Cut(rest, "\n")

	require.NoError(t, cmd.Process.Signal(os.Interrupt))
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	for range lines {
	}
	_ = cmd.Wait()

	_, err = srv.Client().Users.Get(context.Background(), userID)
	assert.ErrorIs(t, err, basiq.ErrNotFound, "user %s created in live mode is still there after Ctrl-C", userID)
}
