package main

import (
	"bytes"
	"context"
	"flag"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The README's command, end to end: the notifications arrive in order,
// each with its event read back.
func TestRunPrintsEachNotificationAsItArrives(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out, errOut bytes.Buffer
	err := run(ctx, []string{"-step", "20ms"}, &out, &errOut, "")
	require.NoError(t, err, out.String())
	assert.Equal(t, 0, exitCode(err, &errOut))
	got := out.String()
	order := []string{"registered webhook", "created user", "user.created", "connection.created",
		"transactions.updated", "connection.activated", "done"}
	last := -1
	for _, w := range order {
		i := strings.Index(got, w)
		require.Greater(t, i, last, "%q out of order in:\n%s", w, got)
		last = i
	}
	assert.Contains(t, got, "(connection created, user ")
	assert.NotContains(t, got, "whsec_", "the secret is never printed")
	assert.NotContains(t, got, "hooli2016", "the password is never printed")
	assert.Empty(t, errOut.String())
}

func TestRunEndsWithAnErrorWhenTheConnectionIsInvalidated(t *testing.T) {
	t.Parallel()
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"-step", "10ms", "-login", "bighead", "-password", "password"}, &out, &errOut, "")
	require.Error(t, err)
	assert.Contains(t, out.String(), "connection.invalidated")
	assert.Equal(t, 1, exitCode(err, &errOut))
	assert.Contains(t, errOut.String(), "connection.invalidated")
}

func TestAPIKeyIsNotUsed(t *testing.T) {
	t.Parallel()
	var out, errOut bytes.Buffer
	require.NoError(t, run(context.Background(), []string{"-step", "0s"}, &out, &errOut, "some-key"), out.String())
	assert.Contains(t, out.String(), "is set but not used")
	assert.NotContains(t, out.String(), "some-key")
}

func TestHelpExitsZeroWithTheUsageOnStdout(t *testing.T) {
	t.Parallel()
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"-h"}, &out, &errOut, "")
	require.ErrorIs(t, err, flag.ErrHelp)
	assert.Equal(t, 0, exitCode(err, &errOut))
	for _, f := range []string{"Usage:", "-institution", "-login", "-password", "-step", "-timeout"} {
		assert.Contains(t, out.String(), f)
	}
	assert.Empty(t, errOut.String())
}

func TestBadFlagsAndExtraArgumentsExitTwoWithTheUsage(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"extra"}, {"-bogus"}, {"-timeout", "soon"}, {"-timeout", "0s"}, {"-step", "-1s"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			var out, errOut bytes.Buffer
			err := run(context.Background(), args, &out, &errOut, "")
			require.Error(t, err)
			assert.Equal(t, 2, exitCode(err, &errOut))
			assert.Contains(t, errOut.String(), "Usage:")
			assert.Empty(t, out.String(), "nothing ran")
		})
	}
}
