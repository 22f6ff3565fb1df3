package basiq

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestMFAChallengeStringIsCleaned(t *testing.T) {
	t.Parallel()
	for name, v := range hostileTexts {
		for _, e := range []*MFAChallenge{
			{JobID: v, Step: StepMFAChallenge, Method: "token"},
			{JobID: "j1", Step: v, Method: "token"},
			{JobID: "j1", Step: StepMFAChallenge, Method: v},
			{JobID: "j1", Step: StepMFAChallenge, Method: "token", Description: v},
			{JobID: v, Step: v, Method: v, Description: v, Questions: []string{v}, ResponseURL: v},
		} {
			assertCleanErrorString(t, e.Error(), name)
		}
	}
	assert.Equal(t, "basiq: job j1 waits for an MFA answer at step mfa-challenge (token): Enter the code sent to 04xx",
		(&MFAChallenge{JobID: "j1", Step: StepMFAChallenge, Method: "token", Description: "Enter the code sent to 04xx"}).Error())
}
