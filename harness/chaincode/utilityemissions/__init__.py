"""The ``utilityemissions`` reference chaincode (DOMAIN.md section 1).

The contract lives in ``_contract``; units, factor choice and the two emissions
branches are pure functions in ``_calc``, re-exported here for tests and tools.
"""

from harness.chaincode.utilityemissions._calc import (
    UNIT_FACTORS,
    YEARS_BACK,
    ChaincodeFailure,
    Emissions,
    candidate_years,
    choose_division,
    compute_emissions,
    emissions_from_generation,
    emissions_from_percent,
    factor_source,
    unit_factor,
    year_of,
)
from harness.chaincode.utilityemissions._contract import (
    FACTOR_CLASS,
    FACTOR_FIELDS,
    FUNCTIONS,
    LOOKUP_CLASS,
    LOOKUP_FIELDS,
    RECORD_CLASS,
    RECORD_FIELDS,
    UtilityEmissions,
    record_uuid,
)

__all__ = [
    "FACTOR_CLASS",
    "FACTOR_FIELDS",
    "FUNCTIONS",
    "LOOKUP_CLASS",
    "LOOKUP_FIELDS",
    "RECORD_CLASS",
    "RECORD_FIELDS",
    "UNIT_FACTORS",
    "YEARS_BACK",
    "ChaincodeFailure",
    "Emissions",
    "UtilityEmissions",
    "candidate_years",
    "choose_division",
    "compute_emissions",
    "emissions_from_generation",
    "emissions_from_percent",
    "factor_source",
    "record_uuid",
    "unit_factor",
    "year_of",
]
