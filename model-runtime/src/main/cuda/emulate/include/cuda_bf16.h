// Host emulation: __half comes from cuda_shim.h (included before every kernel file).
#pragma once
