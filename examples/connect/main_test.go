package main

import (
	"bytes"
	"context"
	"flag"
	"strings"
	"testing"

	"github.com/basiq-go/basiq/basiqtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRunAgainstInMemoryServer(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		args    []string
		stdin   string
		wantErr string
		want    []string
	}{
		{name: "hooli", want: []string{"created user", "verify-credentials", "retrieve-transactions", "success", "accounts:", "transactions,"}},
		{name: "locked account", args: []string{"-login", "bighead", "-password", "password"}, wantErr: "invalid-credentials"},
		{name: "mfa from flag", args: []string{"-institution", basiqtest.InstMFA, "-mfa-code", "1234"}, want: []string{"the bank asks", "mfa-challenge", "accounts:"}},
		{name: "mfa from stdin", args: []string{"-institution", basiqtest.InstMFA}, stdin: "1234\n", want: []string{"code: ", "accounts:"}},
		{name: "mfa with no answer", args: []string{"-institution", basiqtest.InstMFA}, wantErr: "no MFA answer"},
		{name: "token bank", args: []string{"-institution", basiqtest.InstToken, "-user-token", "token:PTln18RhwL"}, want: []string{"accounts:"}},
		{name: "token bank without token", args: []string{"-institution", basiqtest.InstToken, "-login", "", "-password", ""}, wantErr: "userToken"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var out bytes.Buffer
			err := run(context.Background(), tc.args, strings.NewReader(tc.stdin), &out, "")
			if tc.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.wantErr)
				return
			}
			require.NoError(t, err, out.String())
			for _, w := range tc.want {
				assert.Contains(t, out.String(), w)
			}
			assert.NotContains(t, out.String(), "hooli2016", "the password is never printed")
		})
	}
}

func TestHelp(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	err := run(context.Background(), []string{"-h"}, strings.NewReader(""), &out, "")
	require.ErrorIs(t, err, flag.ErrHelp)
	for _, f := range []string{"-institution", "-login", "-password", "-user-token", "-mfa-code"} {
		assert.Contains(t, out.String(), f)
	}
}
