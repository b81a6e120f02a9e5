// SPDX-License-Identifier: Apache-2.0
#pragma once

#define DSDEPLOY_VERSION_MAJOR 0
#define DSDEPLOY_VERSION_MINOR 1
#define DSDEPLOY_VERSION_PATCH 0
#define DSDEPLOY_VERSION "0.1.0"
