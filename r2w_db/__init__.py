"""r2w_db: the Resume2Website database: schema, migrations, data operations, figures and maintenance.

Imports no Streamlit. Every function takes the database (a Database or a path) first.
"""
from .connection import Database, as_database
from .errors import (R2WError, DatabaseMissing, NotADatabase, EmptyDatabase, SchemaTooOld,
                     SchemaTooNew, DatabaseLocked, DatabaseReadOnly, DiskFull, Unreadable,
                     DuplicateEmail, InvalidValue)
from .migrations import init, migrate
from .passwords import hash_password, verify_password
from .users import create_user, get_user_by_email, get_user_by_id, update_user_profile
from .sessions import (create_session, get_user_id_from_session, delete_session,
                       cleanup_old_sessions, count_old_sessions)
from .uploads import (create_cv_upload, get_user_cv_uploads, update_cv_upload_status,
                      transfer_cv_ownership, get_user_with_cvs, get_multiple_users_cvs)
from .cache import (get_cached_extraction, cache_extraction_result, cleanup_old_cache_entries,
                    count_old_cache_entries)
from .portfolio import update_user_portfolio, get_user_portfolio, clear_user_portfolio
from .stats import calculate_cache_hit_rate, get_extraction_stats, collect_stats
from .check import run_check
