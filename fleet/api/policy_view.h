/* policy_view.h (private to fleet/api): a policy as the API's JSON. */
#ifndef SLOTFLEET_POLICY_VIEW_H
#define SLOTFLEET_POLICY_VIEW_H

#include <jansson.h>

#include "store/fleet_store_policy.h"

/* counts NULL: without them (lists, answers to writes). */
json_t *fleet_policy_view(const struct fleet_policy *policy,
			  const struct fleet_policy_counts *counts);

#endif
