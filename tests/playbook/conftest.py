from tests.commission.conftest import agreement_v1, assault, people, tokens_of  # noqa: F401  (fixtures)
from tests.commission.test_commission import voting_case  # noqa: F401
